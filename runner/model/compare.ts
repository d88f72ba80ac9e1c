import { caseKey, comparisonClasses, type CaseResult, type CaseStatus, type ComparedCase, type Comparison, type ComparisonClass, type KernelRecord, type Rerun, type RunModel } from './types.js';

import { isFailingStatus as failing, skipNeverRegresses } from './status.js';

// One case on the baseline kernel against the same case on another, as kci-dev and NIPA read
// them: a pass that became anything else (a skip too: a series that stops the kernel offering a
// feature has regressed it), or a skip that became a failure, is a regression. A pass that became
// a skip for the kernel's release or for a resource the machine lacks is not: neither kernel was
// wrong, and running it again would change nothing.
export function classify(baseline: CaseResult | undefined, candidate: CaseResult | undefined): ComparisonClass {
  if (!baseline) return 'new';
  if (!candidate) return 'removed';
  const [b, c] = [baseline.status, candidate.status];
  if (b === 'pass' && c === 'skip' && skipNeverRegresses(candidate)) return 'changed';
  if (regresses(b, c)) return 'regression';
  if (b !== 'pass' && c === 'pass') return 'fixed';
  if (b === c) return baseline.reason === candidate.reason && sameReports(baseline, candidate) ? 'unchanged' : 'changed';
  return failing(b) && failing(c) ? 'still-failing' : 'changed';
}

/** Statuses alone: a pass that became anything else, or a skip that became a failure. */
const regresses = (b: CaseStatus, c: CaseStatus): boolean => (b === 'pass' && c !== 'pass') || (b === 'skip' && failing(c));

/** A regression that reruns in fresh guests do not reproduce every time (the baseline's status
 * holding, the other kernel's still regressed against it) is flaky. Statuses are first-run first. */
export function confirmRegression(baseline: readonly CaseStatus[], candidate: readonly CaseStatus[]): 'regression' | 'flaky' {
  const first = baseline[0]!;
  return baseline.every((s) => s === first) && candidate.every((s) => regresses(first, s)) ? 'regression' : 'flaky';
}

export interface CompareInput {
  baseline: KernelRecord;
  candidate: KernelRecord;
  results: readonly CaseResult[];
  reruns?: readonly Rerun[];
  /** The cases both sides planned, in plan order; a case only one side has is new or removed. */
  order?: readonly { suite: string; case: string }[];
}

// Every lookup is by key (maps and sets), so two runs of 50k cases each compare in linear time.
export function compareKernels(input: CompareInput): Comparison {
  const of = (kernel: string) => new Map(input.results.filter((r) => r.kernel === kernel).map((r) => [caseKey(r), r] as const));
  const base = of(input.baseline.id);
  const cand = of(input.candidate.id);
  // The plan's order first, then what only the results hold.
  const keys = new Set(input.order ? input.order.map(caseKey) : []);
  for (const key of base.keys()) keys.add(key);
  for (const key of cand.keys()) keys.add(key);
  const reruns = rerunsByCase(input.reruns ?? []);
  const cases = [...keys].flatMap((key): ComparedCase[] => {
    const b = base.get(key);
    const c = cand.get(key);
    if (!b && !c) return [];
    const ref = (b ?? c)!;
    let cls = classify(b, c);
    const attempts = rerunsOf(reruns.get(key) ?? [], input.baseline.id, input.candidate.id);
    if (cls === 'regression' && attempts) cls = confirmRegression([b!.status, ...attempts.baseline], [c!.status, ...attempts.candidate]);
    return [{
      suite: ref.suite,
      case: ref.case,
      class: cls,
      baseline: b ? { status: b.status, reason: b.reason } : null,
      candidate: c ? { status: c.status, reason: c.reason } : null,
      newReports: newReports(b, c),
      ...(attempts ? { attempts: { baseline: [b?.status, ...attempts.baseline].filter(isStatus), candidate: [c?.status, ...attempts.candidate].filter(isStatus) } } : {}),
    }];
  });
  const counts = Object.fromEntries(comparisonClasses.map((k) => [k, 0])) as Record<ComparisonClass, number>;
  for (const c of cases) counts[c.class]++;
  return {
    baseline: { id: input.baseline.id, label: input.baseline.label },
    candidate: { id: input.candidate.id, label: input.candidate.label },
    counts,
    cases,
  };
}

const isStatus = (s: CaseStatus | undefined): s is CaseStatus => s !== undefined;

function rerunsByCase(reruns: readonly Rerun[]): Map<string, Rerun[]> {
  const byCase = new Map<string, Rerun[]>();
  for (const r of reruns) {
    const list = byCase.get(caseKey(r));
    if (list) list.push(r);
    else byCase.set(caseKey(r), [r]);
  }
  return byCase;
}

/** One case's reruns on the two kernels, first attempt first; null when it was not rerun. */
function rerunsOf(ofCase: readonly Rerun[], baseline: string, candidate: string): { baseline: CaseStatus[]; candidate: CaseStatus[] } | null {
  const mine = [...ofCase].sort((a, b) => a.attempt - b.attempt);
  if (mine.length === 0) return null;
  return { baseline: mine.filter((r) => r.kernel === baseline).map((r) => r.status), candidate: mine.filter((r) => r.kernel === candidate).map((r) => r.status) };
}

/** Report titles without what changes from boot to boot: addresses, offsets, CPU and PID numbers. */
export function reportSignature(title: string): string {
  return title
    .replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+/g, '')
    .replace(/\b(CPU|PID)[:#]\s*\d+/g, '$1')
    .replace(/\[[^\]]*:\d+\]/g, '')
    .replace(/0x[0-9a-f]+|\b[0-9a-f]{8,}\b/g, 'ADDR')
    .replace(/\b\d+s\b/g, 'Ns')
    .trim();
}

function sameReports(a: CaseResult, b: CaseResult): boolean {
  const sig = (r: CaseResult) => (r.reports ?? []).map((f) => `${f.kind} ${reportSignature(f.title)}`).sort().join('\n');
  return sig(a) === sig(b);
}

function newReports(baseline: CaseResult | undefined, candidate: CaseResult | undefined): string[] {
  const before = new Set((baseline?.reports ?? []).map((f) => `${f.kind} ${reportSignature(f.title)}`));
  return (candidate?.reports ?? []).filter((f) => !before.has(`${f.kind} ${reportSignature(f.title)}`)).map((f) => f.title);
}

/** The comparisons of a run's pairs; a kernel that never resolved has no results of its own to
 * compare, only the reason it failed, so its pairs are left out. */
export function comparePairs(model: RunModel): Comparison[] {
  const byIndex = (i: number) => model.kernels.find((k) => k.index === i);
  return model.matrix.pairs.flatMap(([b, c]) => {
    const [baseline, candidate] = [byIndex(b), byIndex(c)];
    return baseline?.accel && candidate?.accel ? [compareKernels({ baseline, candidate, results: model.results, reruns: model.reruns, order: model.matrix.cases })] : [];
  });
}
