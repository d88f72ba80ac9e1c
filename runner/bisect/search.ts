// The search over candidates 0..count-1 (0 the good end, count-1 the bad end), given the verdicts
// so far: which candidate to test next, or the answer. Candidates that could not be tested
// (skip) are stepped around as `git bisect skip` does; when only skipped ones are left between
// the last good and the first bad candidate, the answer is one of them or the first bad.

export type Verdict = 'good' | 'bad' | 'skip';

export type SearchNext =
  | { kind: 'probe'; candidate: number }
  | { kind: 'found'; firstBad: number; lastGood: number }
  | { kind: 'ambiguous'; among: number[]; lastGood: number };

/** The range still in question: the first bad candidate, and the last good one below it. */
export function bounds(count: number, verdicts: ReadonlyMap<number, Verdict>): { lastGood: number; firstBad: number } {
  let firstBad = count - 1;
  for (const [index, verdict] of verdicts) if (verdict === 'bad' && index < firstBad) firstBad = index;
  let lastGood = 0;
  for (const [index, verdict] of verdicts) if (verdict === 'good' && index < firstBad && index > lastGood) lastGood = index;
  return { lastGood, firstBad };
}

/** Candidates strictly inside the range that nobody has tested yet. */
export function untested(count: number, verdicts: ReadonlyMap<number, Verdict>): number[] {
  const { lastGood, firstBad } = bounds(count, verdicts);
  const out: number[] = [];
  for (let i = lastGood + 1; i < firstBad; i++) if (!verdicts.has(i)) out.push(i);
  return out;
}

// The untested candidate nearest the middle of the range, the lower one of two as near: with no
// skips this is plain bisection; a skip moves the probe to its nearest neighbour.
export function nextStep(count: number, verdicts: ReadonlyMap<number, Verdict>): SearchNext {
  const { lastGood, firstBad } = bounds(count, verdicts);
  const open = untested(count, verdicts);
  if (open.length > 0) {
    const middle = (lastGood + firstBad) / 2;
    const best = open.reduce((a, b) => (Math.abs(b - middle) < Math.abs(a - middle) ? b : a));
    return { kind: 'probe', candidate: best };
  }
  const skipped: number[] = [];
  for (let i = lastGood + 1; i < firstBad; i++) skipped.push(i);
  if (skipped.length === 0) return { kind: 'found', firstBad, lastGood };
  return { kind: 'ambiguous', among: [...skipped, firstBad], lastGood };
}

/** About how many more probes the search needs: a binary search over what is untested. */
export function probesLeft(count: number, verdicts: ReadonlyMap<number, Verdict>): number {
  const open = untested(count, verdicts).length;
  return open === 0 ? 0 : Math.ceil(Math.log2(open + 1));
}
