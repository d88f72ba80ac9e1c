import { failsRun, isFailingStatus } from './status.js';
import { caseKey, type CaseResult, type CaseStatus, type ComparedCase, type ComparisonClass, type KernelReport, type RunModel } from './types.js';

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
  const labels = new Map(model.kernels.map((k) => [k.id, k.label] as const));
  const label = (id: string) => labels.get(id) ?? id;
  const planned = new Map(model.matrix.cases.map((c) => [caseKey(c), c] as const));
  const order = new Map(model.matrix.cases.map((c, i) => [caseKey(c), i] as const));
  const compared = comparedCases(model);
  const items: AttentionItem[] = [];
  // The item a result joins, by key rather than by search (a large run has many items): the same
  // case with the same outcome, or a result the runner filled in for the same reason; each with
  // its place in `items` (the earlier wins) and the cases it already names.
  type Joined = { item: AttentionItem; index: number; named: Set<string> };
  const sameCase = new Map<string, Joined>();
  const sameFill = new Map<string, Joined>();
  for (const r of model.results) {
    const place = whereIn(model, compared, r);
    if (!place) continue;
    const key = caseKey(r);
    const reason = r.reason?.split('\n')[0] ?? null;
    const outcome = JSON.stringify([place.tier, r.status, reason]);
    const byCase = sameCase.get(`${outcome}\0${key}`);
    const byFill = r.filled !== undefined ? sameFill.get(outcome) : undefined;
    const same = byCase && byFill ? (byCase.index < byFill.index ? byCase : byFill) : (byCase ?? byFill);
    if (same) {
      if (!same.item.kernels.includes(label(r.kernel))) same.item.kernels.push(label(r.kernel));
      if (!same.named.has(key)) {
        same.named.add(key);
        same.item.more.push(key);
      }
      continue;
    }
    const report = r.reports?.find((f) => !f.allowed) ?? null;
    const item: AttentionItem = {
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
    };
    const joined = { item, index: items.length, named: new Set([key]) };
    items.push(item);
    sameCase.set(`${outcome}\0${key}`, joined);
    if (item.filled && !sameFill.has(outcome)) sameFill.set(outcome, joined);
  }
  const kernelOrder = new Map(kernels.map((k, i) => [k.label, i] as const));
  for (const item of items) item.kernels.sort((a, b) => (kernelOrder.get(a) ?? -1) - (kernelOrder.get(b) ?? -1));
  return items.sort((a, b) => attentionTiers.indexOf(a.tier) - attentionTiers.indexOf(b.tier) || (order.get(caseKey(a)) ?? 0) - (order.get(caseKey(b)) ?? 0));
}

/** Counts by tier, for the counters at the top of a report. */
export function attentionCounts(items: readonly AttentionItem[]): Record<AttentionTier, number> {
  return Object.fromEntries(attentionTiers.map((t) => [t, items.filter((x) => x.tier === t).length])) as Record<AttentionTier, number>;
}

/** The comparisons by kernel, each case by key: where a kernel is the one compared (the first
 * such comparison), and where it is the baseline. */
interface ComparedCases {
  asCandidate: Map<string, { baseline: string; cases: Map<string, ComparedCase> }>;
  asBaseline: Map<string, Map<string, ComparedCase[]>>;
}

function comparedCases(model: RunModel): ComparedCases {
  const asCandidate: ComparedCases['asCandidate'] = new Map();
  const asBaseline: ComparedCases['asBaseline'] = new Map();
  for (const comparison of model.comparisons) {
    if (!asCandidate.has(comparison.candidate.id)) {
      const cases = new Map<string, ComparedCase>();
      for (const c of comparison.cases) if (!cases.has(caseKey(c))) cases.set(caseKey(c), c);
      asCandidate.set(comparison.candidate.id, { baseline: comparison.baseline.label, cases });
    }
    const byCase = asBaseline.get(comparison.baseline.id) ?? new Map<string, ComparedCase[]>();
    asBaseline.set(comparison.baseline.id, byCase);
    for (const c of comparison.cases) {
      const list = byCase.get(caseKey(c));
      if (list) list.push(c);
      else byCase.set(caseKey(c), [c]);
    }
  }
  return { asCandidate, asBaseline };
}

// A result's place in the block, if it has one: on a kernel compared with a baseline, its class
// decides (a pass that became a skip is a regression though nothing failed); on a baseline, a
// failure is known when the other kernel fails too, and fixed (no attention) when it passes.
function whereIn(model: RunModel, compared: ComparedCases, r: CaseResult): { tier: AttentionTier; class: ComparisonClass | null; from: CaseStatus | null; known: string | null } | null {
  const asCandidate = compared.asCandidate.get(r.kernel);
  const against = asCandidate?.cases.get(caseKey(r));
  if (asCandidate && against) {
    const cls = against.class;
    const from = against.baseline?.status ?? null;
    // The verdict counts the comparison's classes, expected or not: so does this block.
    if (model.failOn.includes(cls)) return { tier: 'regression', class: cls, from, known: r.expected ? `${r.expected.reason} (${r.expected.entry})` : null };
    if (!isFailingStatus(r.status)) return null;
    if (r.expected) return { tier: 'known', class: cls, from, known: `${r.expected.reason} (${r.expected.entry})` };
    if (from !== null && isFailingStatus(from)) return { tier: 'known', class: cls, from, known: `${from} on ${asCandidate.baseline} too` };
    return { tier: 'failure', class: cls, from, known: null };
  }
  if (!isFailingStatus(r.status)) return null;
  const asBaseline = compared.asBaseline.get(r.kernel);
  if (asBaseline) {
    const other = (asBaseline.get(caseKey(r)) ?? []).filter((x) => x.candidate && isFailingStatus(x.candidate.status));
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
