import { join } from 'node:path';
import type { BisectDocument, CandidateRecord, StepRecord } from './state.js';

// The answer block a bisect ends with (and prints again when run once more): what it found, the
// cases that flipped, what it skipped and why, every step's directory, and the command that
// reproduces the last step. Its key words are stable: scripts and tests read them.
export function answerLines(doc: BisectDocument, dir: string): string[] {
  const lines: string[] = [];
  const c = (index: number) => doc.candidates[index]!;
  const tree = doc.form === 'tree';
  const answer = doc.answer;
  if (answer?.kind === 'no-difference') {
    const [good, bad] = [c(0), c(doc.candidates.length - 1)];
    lines.push(`no difference: no selected case ${badWords(doc)} on the bad end (${shortName(bad)}) and passes on the good end (${shortName(good)})`);
  } else if (answer?.kind === 'found') {
    const first = c(answer.firstBad);
    if (tree) {
      lines.push(`first bad commit: ${first.commit!.hash} ${first.commit!.subject}`, `author: ${first.commit!.author}`);
    } else {
      lines.push(`first bad kernel: ${fullName(first)}`);
    }
    lines.push(`last good: ${tree ? shortName(c(answer.lastGood)) : fullName(c(answer.lastGood))}`);
    for (const f of answer.flipped) {
      lines.push(`flipped: ${f.suite}/${f.case}: ${f.good.status} on ${shortName(c(answer.lastGood))} -> ${f.bad.status} on ${shortName(first)}${f.bad.reason ? `: ${oneLine(f.bad.reason)}` : ''}`);
    }
  } else if (answer?.kind === 'ambiguous') {
    lines.push(`the first bad ${tree ? 'commit' : 'kernel'} is one of:`);
    for (const index of answer.among) lines.push(`  ${tree ? `${c(index).commit!.hash} ${c(index).commit!.subject}` : fullName(c(index))}`);
    lines.push(`last good: ${tree ? shortName(c(answer.lastGood)) : fullName(c(answer.lastGood))}`);
  }
  for (const key of doc.unstableAtBadEnd ?? []) lines.push(`unstable: ${key} did not hold on a rerun of the bad end, so it is no oracle case`);
  if (answer && answer.kind !== 'no-difference') {
    if (doc.skipped.length === 0) lines.push('skipped: none');
    for (const s of doc.skipped) lines.push(`skipped: ${shortName(c(s.candidate))}: ${s.why}`);
  }
  for (const step of doc.steps) {
    lines.push(`step ${step.n} (${stepWord(step)}): ${join(dir, step.dir)}`);
    step.reruns.forEach((r, i) => lines.push(`step ${step.n} rerun ${i + 1} (${r.verdict}): ${join(dir, r.dir)}`));
  }
  if (doc.reproduce) lines.push(`reproduce the last step: ${doc.reproduce}`);
  return lines.map(oneLine);
}

/** A step's verdict as the answer lists it. */
export function stepWord(step: StepRecord): string {
  return step.unstable ? 'unstable' : step.verdict;
}

/** "1a2b3c4d5e6f subject" for a commit, the spec for a kernel. */
export function shortName(candidate: CandidateRecord): string {
  return candidate.commit ? `${candidate.commit.hash.slice(0, 12)} ${candidate.commit.subject}` : candidate.label;
}

function fullName(candidate: CandidateRecord): string {
  return candidate.release && candidate.release !== candidate.label ? `${candidate.label} (${candidate.release})` : candidate.label;
}

function badWords(doc: BisectDocument): string {
  const named = doc.badClass.join('/');
  return doc.badClass.length === 4 && ['fail', 'timeout', 'crash', 'error'].every((s) => doc.badClass.includes(s as never)) ? 'fails' : `is ${named}`;
}

const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');

/** An argument as a POSIX shell reads it back. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_/.:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
