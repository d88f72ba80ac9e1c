import { failsRun, isFailingStatus } from './status.js';
import { caseKey, type CaseResult, type CaseStatus, type ComparisonClass, type KernelReport, type RunModel } from './types.js';

// What needs attention, first things first, the same in every report: what failed the run by
// comparison (a regression), then what failed the run on its own or newly failed, then failures
// that did not fail it (known to an expectation, or failing on the baseline too). The same
// failure on several kernels is one item.

/** regression: a comparison class that fails the run; failure: a failure that fails the run, or a
 * new or flaky one; known: a failure an expectation accepts, or one the baseline shares. */
export type AttentionTier = 'regression' | 'failure' | 'known';
export const attentionTiers: readonly AttentionTier[] = ['regression', 'failure', 'known'];

export interface AttentionItem {
  tier: AttentionTier;
  suite: string;
  case: string;
  /** The kernels (labels) it happened on, in matrix order. */
  kernels: string[];
  /** The first of them by id, whose console shows it. */
  kernelId: string;
  status: CaseStatus;
  /** Its comparison class, when a comparison classed it. */
  class: ComparisonClass | null;
  /** The baseline's status, for a regression. */
  from: CaseStatus | null;
  reason: string | null;
  /** The suite file and the line of the failing step (else of the case), when known. */
  file: string | null;
  line: number | null;
  /** Why it does not fail the run, for a known one: the expectation's entry, or the baseline. */
  known: string | null;
  /** Other cases left with the same result for the same reason by the runner (a guest that
   * died, a build that failed): one item, not one per case. */
  more: string[];
  filled: boolean;
  /** Its first kernel report's title and the top of its call trace. */
  report: { kind: KernelReport['kind']; title: string; trace: string[] } | null;
}

/** Frames a report shows of its call trace: enough to name the path into the fault. */
const traceFrames = 6;

export function attentionItems(model: RunModel): AttentionItem[] {
  const kernels = [...model.kernels].sort((a, b) => a.index - b.index);
  const label = (id: string) => model.kernels.find((k) => k.id === id)?.label ?? id;
  const planned = new Map(model.matrix.cases.map((c) => [caseKey(c), c] as const));
  const order = new Map(model.matrix.cases.map((c, i) => [caseKey(c), i] as const));
  const items: AttentionItem[] = [];
  for (const r of model.results) {
    const place = whereIn(model, r);
    if (!place) continue;
    const key = caseKey(r);
    const reason = r.reason?.split('\n')[0] ?? null;
    const same = items.find((x) => x.tier === place.tier && x.status === r.status && x.reason === reason && (caseKey(x) === key || (r.filled !== undefined && x.filled)));
    if (same) {
      if (!same.kernels.includes(label(r.kernel))) same.kernels.push(label(r.kernel));
      if (caseKey(same) !== key && !same.more.includes(key)) same.more.push(key);
      continue;
    }
    const report = r.reports?.find((f) => !f.allowed) ?? null;
    items.push({
      tier: place.tier,
      suite: r.suite,
      case: r.case,
      kernels: [label(r.kernel)],
      kernelId: r.kernel,
      status: r.status,
      class: place.class,
      from: place.from,
      reason,
      file: planned.get(key)?.file ?? null,
      line: r.stepLine ?? planned.get(key)?.line ?? null,
      known: place.known,
      filled: r.filled !== undefined,
      more: [],
      report: report ? { kind: report.kind, title: report.title, trace: callTraceTop(report.text) } : null,
    });
  }
  const kernelOrder = (labelText: string) => kernels.findIndex((k) => k.label === labelText);
  for (const item of items) item.kernels.sort((a, b) => kernelOrder(a) - kernelOrder(b));
  return items.sort((a, b) => attentionTiers.indexOf(a.tier) - attentionTiers.indexOf(b.tier) || (order.get(caseKey(a)) ?? 0) - (order.get(caseKey(b)) ?? 0));
}

/** Counts by tier, for the counters at the top of a report. */
export function attentionCounts(items: readonly AttentionItem[]): Record<AttentionTier, number> {
  return Object.fromEntries(attentionTiers.map((t) => [t, items.filter((x) => x.tier === t).length])) as Record<AttentionTier, number>;
}

// A result's place in the block, if it has one: on a kernel compared with a baseline, its class
// decides (a pass that became a skip is a regression though nothing failed); on a baseline, a
// failure is known when the other kernel fails too, and fixed (no attention) when it passes.
function whereIn(model: RunModel, r: CaseResult): { tier: AttentionTier; class: ComparisonClass | null; from: CaseStatus | null; known: string | null } | null {
  const compared = model.comparisons.find((c) => c.candidate.id === r.kernel)?.cases.find((c) => caseKey(c) === caseKey(r));
  if (compared) {
    const cls = compared.class;
    const from = compared.baseline?.status ?? null;
    if (model.failOn.includes(cls) && !r.expected) return { tier: 'regression', class: cls, from, known: null };
    if (!isFailingStatus(r.status)) return null;
    if (r.expected) return { tier: 'known', class: cls, from, known: `${r.expected.reason} (${r.expected.entry})` };
    if (from !== null && isFailingStatus(from)) return { tier: 'known', class: cls, from, known: `${from} on ${model.comparisons.find((c) => c.candidate.id === r.kernel)!.baseline.label} too` };
    return { tier: 'failure', class: cls, from, known: null };
  }
  if (!isFailingStatus(r.status)) return null;
  const asBaseline = model.comparisons.filter((c) => c.baseline.id === r.kernel);
  if (asBaseline.length > 0) {
    const other = asBaseline.flatMap((c) => c.cases.filter((x) => caseKey(x) === caseKey(r) && x.candidate && isFailingStatus(x.candidate.status)));
    return other.length > 0 ? { tier: 'known', class: null, from: null, known: r.expected ? `${r.expected.reason} (${r.expected.entry})` : 'fails on the baseline' } : null;
  }
  if (r.expected) return { tier: 'known', class: null, from: null, known: `${r.expected.reason} (${r.expected.entry})` };
  return failsRun(r) ? { tier: 'failure', class: null, from: null, known: null } : null;
}

/** A frame: `function+0x19/0x1d [module]`, after "? " when the unwinder only guessed it. */
const frame = /^(\? )?[\w.]+\+0x[0-9a-f]+\/0x[0-9a-f]+( \[\w+\])?$/;

/** The report's RIP line and the top of its call trace: the reliable frames, or the guessed ones
 * when the kernel printed no other (built without frame pointers or ORC data). */
export function callTraceTop(text: string, frames = traceFrames): string[] {
  const lines = text.split('\n').map((l) => l.trim());
  const rip = lines.find((l) => l.startsWith('RIP:'));
  const start = lines.findIndex((l) => l === 'Call Trace:');
  const all = start < 0 ? [] : lines.slice(start + 1).filter((l) => frame.test(l));
  const reliable = all.filter((l) => !l.startsWith('?'));
  return [...(rip ? [rip] : []), ...(reliable.length > 0 ? reliable : all).slice(0, frames)];
}
