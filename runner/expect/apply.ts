import { globMatch } from '../core/glob.js';
import { shareOf } from '../model/shard.js';
import { caseKey, type CaseRef, type CaseResult, type ExpectationEntry, type ExpectationOutcome, type ExpectedBy, type KernelRecord, type PlannedCase, type RunModel } from '../model/types.js';
import { isFailingStatus } from '../model/status.js';

const caseMatches = (entry: ExpectationEntry, r: CaseRef) => globMatch(entry.case, entry.case.includes('/') ? caseKey(r) : r.case);
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

/** How a run's expectations are applied: its entries, whether a stale one fails the run, the
 * clock, and the `--case` patterns that chose the run's cases, if any. */
export interface ExpectationOptions {
  entries: ExpectationEntry[];
  strict: boolean;
  now: Date;
  caseFilter?: readonly string[];
}

// A result an entry expects keeps its status and is marked with the entry's reason, and does not
// fail the run. An entry past its date no longer applies; one that matched nothing, or whose case
// passed, is stale: the known failure is gone or never came, and the entry can go. An entry is
// judged only on the cases this run planned: one whose cases are in another shard is left to
// `merge`, and one for a case `--case` left out is not judged at all.
export function applyExpectations(model: RunModel, opts: ExpectationOptions): ExpectationOutcome {
  const kernels = new Map(model.kernels.map((k) => [k.id, k] as const));
  const kernelOf = (id: string) => kernels.get(id);
  const live = opts.entries.filter((e) => !expired(e, opts.now));
  const used = new Set<ExpectationEntry>();
  const acceptedBy = new Map<CaseResult, ExpectationEntry>();
  for (const result of model.results) {
    delete result.expected;
    const entry = expectationFor(live, opts.now, kernelOf(result.kernel), result);
    if (!entry) continue;
    used.add(entry);
    acceptedBy.set(result, entry);
    result.expected = expectedBy(entry);
  }
  const elsewhere = plannedElsewhere(model);
  const stale: ExpectationOutcome['stale'] = [];
  const deferred: NonNullable<ExpectationOutcome['deferred']> = [];
  for (const entry of live.filter((e) => !used.has(e))) {
    const matched = model.results.filter((r) => caseMatches(entry, r) && kernelMatches(entry, kernelOf(r.kernel)));
    const unjudged = notJudged(entry, matched, model, elsewhere, opts.caseFilter ?? []);
    if (unjudged) deferred.push({ at: entry.at, why: unjudged });
    else stale.push({ at: entry.at, why: staleness(entry, matched, acceptedBy) });
  }
  return {
    entries: opts.entries,
    expired: opts.entries.filter((e) => expired(e, opts.now)).map((e) => `${e.at}: ${describe(e)} (until ${e.until})`),
    stale,
    ...(deferred.length > 0 ? { deferred } : {}),
    ...(opts.caseFilter?.length ? { caseFilter: [...opts.caseFilter] } : {}),
    strict: opts.strict,
  };
}

const describe = (entry: ExpectationEntry): string => `${entry.case}${entry.kernel ? ` on ${entry.kernel}` : ''}`;

/** The planned cases another shard runs on some kernel: a shard's results cannot judge an entry for them. */
function plannedElsewhere(model: RunModel): PlannedCase[] {
  if (!model.shard) return [];
  const share = shareOf(model.matrix.kernels.length, model.matrix.cases, model.shard, model.matrix.pairs.length > 0);
  const mine = new Set(model.matrix.kernels.flatMap((_, index) => share(index).map((c) => `${index} ${caseKey(c)}`)));
  return model.matrix.cases.filter((c) => model.matrix.kernels.some((_, index) => !mine.has(`${index} ${caseKey(c)}`)));
}

/** Why this run cannot judge an entry it did not use, or null when it can (the entry is stale): a
 * shard sees only its share of a case another shard runs too, `--case` left its cases out, or the
 * entry is for kernels the run did not boot (a shipped file's 6.1 entry on a 6.12 run). */
function notJudged(entry: ExpectationEntry, matched: readonly CaseResult[], model: RunModel, elsewhere: readonly PlannedCase[], caseFilter: readonly string[]): string | null {
  if (elsewhere.some((c) => caseMatches(entry, c))) return `${describe(entry)}: its cases are in other shards; faultline merge judges it`;
  if (matched.length === 0 && caseFilter.length > 0 && !model.matrix.cases.some((c) => caseMatches(entry, c))) return `${describe(entry)}: no case this run planned matches it (--case ${caseFilter.join(', ')})`;
  if (entry.kernel !== null && !model.kernels.some((k) => kernelMatches(entry, k))) return `${describe(entry)}: no kernel this run booted matches ${entry.kernel}`;
  return null;
}

function staleness(entry: ExpectationEntry, matched: readonly CaseResult[], acceptedBy: ReadonlyMap<CaseResult, ExpectationEntry>): string {
  const what = describe(entry);
  if (matched.length === 0) return `${what} matched no result`;
  // What this entry would have accepted went to an entry before it in the files: it is shadowed.
  const shadows = [...new Set(matched.filter((r) => r.status === entry.status).flatMap((r) => acceptedBy.get(r)?.at ?? []))];
  if (shadows.length > 0) return `${what} is shadowed by ${shadows.join(', ')}: ${shadows.length === 1 ? 'that entry accepts' : 'those entries accept'} the same results first`;
  const statuses = [...new Set(matched.map((r) => r.status))];
  if (statuses.every((s) => s === 'pass')) return `${what} passed`;
  return `${what} ended ${statuses.join(', ')}, not ${entry.status}`;
}
