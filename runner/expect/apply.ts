import { globMatch } from '../core/glob.js';
import { caseKey, type CaseResult, type ExpectationEntry, type ExpectationOutcome, type ExpectedBy, type KernelRecord, type RunModel } from '../model/types.js';
import { isFailingStatus } from '../model/status.js';

const caseMatches = (entry: ExpectationEntry, r: CaseResult) => globMatch(entry.case, entry.case.includes('/') ? caseKey(r) : r.case);
const kernelMatches = (entry: ExpectationEntry, k: KernelRecord | undefined) =>
  entry.kernel === null || (k !== undefined && [k.label, k.release ?? '', k.spec].some((name) => globMatch(entry.kernel!, name)));

/** An entry applies through its `until` day, in UTC. */
export function expired(entry: ExpectationEntry, now: Date): boolean {
  return entry.until !== null && now.getTime() > Date.parse(`${entry.until}T23:59:59.999Z`);
}

/** The entry that accepts this result, if any: used as results arrive, so reports say it live. */
export function expectationFor(entries: readonly ExpectationEntry[], now: Date, kernel: KernelRecord | undefined, result: CaseResult): ExpectationEntry | undefined {
  if (!isFailingStatus(result.status)) return undefined;
  return entries.find((e) => !expired(e, now) && e.status === result.status && caseMatches(e, result) && kernelMatches(e, kernel));
}

/** The store's live check: which entry, if any, accepts a result as it arrives. */
export function liveExpectation(entries: readonly ExpectationEntry[], now: Date): ((result: CaseResult, kernel: KernelRecord | undefined) => ExpectedBy | undefined) | undefined {
  if (entries.length === 0) return undefined;
  return (result, kernel) => {
    const entry = expectationFor(entries, now, kernel, result);
    return entry ? expectedBy(entry) : undefined;
  };
}

export const expectedBy = (entry: ExpectationEntry): NonNullable<CaseResult['expected']> => ({
  reason: entry.reason,
  entry: entry.at,
  ...(entry.url ? { url: entry.url } : {}),
  ...(entry.until ? { until: entry.until } : {}),
});

// A result an entry expects keeps its status and is marked with the entry's reason, and does not
// fail the run. An entry past its date no longer applies; one that matched nothing, or whose case
// passed, is stale: the known failure is gone or never came, and the entry can go.
export function applyExpectations(model: RunModel, opts: { entries: ExpectationEntry[]; strict: boolean; now: Date }): ExpectationOutcome {
  const kernelOf = (id: string) => model.kernels.find((k) => k.id === id);
  const live = opts.entries.filter((e) => !expired(e, opts.now));
  const used = new Set<ExpectationEntry>();
  for (const result of model.results) {
    delete result.expected;
    const entry = expectationFor(live, opts.now, kernelOf(result.kernel), result);
    if (!entry) continue;
    used.add(entry);
    result.expected = expectedBy(entry);
  }
  const stale = live.filter((e) => !used.has(e)).map((e) => ({ at: e.at, why: staleness(e, model.results.filter((r) => caseMatches(e, r) && kernelMatches(e, kernelOf(r.kernel)))) }));
  return {
    entries: opts.entries,
    expired: opts.entries.filter((e) => expired(e, opts.now)).map((e) => `${e.at}: ${e.case}${e.kernel ? ` on ${e.kernel}` : ''} (until ${e.until})`),
    stale,
    strict: opts.strict,
  };
}

function staleness(entry: ExpectationEntry, matched: readonly CaseResult[]): string {
  const what = `${entry.case}${entry.kernel ? ` on ${entry.kernel}` : ''}`;
  if (matched.length === 0) return `${what} matched no result`;
  const statuses = [...new Set(matched.map((r) => r.status))];
  if (statuses.every((s) => s === 'pass')) return `${what} passed`;
  return `${what} ended ${statuses.join(', ')}, not ${entry.status}`;
}
