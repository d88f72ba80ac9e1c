import type { CaseRef, CaseResult, CaseStatus, FillCause } from './types.js';

/** What a case gets when the runner, not the guest, gives it its result: a status, why, and the
 * words for people. */
export interface Missing {
  status: CaseStatus;
  cause: FillCause;
  /** What happened, without the "no result" that every such reason starts with. */
  detail: string;
}

const noResult = 'no result: ';

/** The one place a filled result's reason is worded for people. */
export function filledReason(missing: Missing): string {
  return `${noResult}${missing.detail}`;
}

/** The result the runner gives a case it has none for. */
export function filledResult(kernel: string, ref: CaseRef, missing: Missing, durationMs = 0): CaseResult {
  return { kernel, suite: ref.suite, case: ref.case, status: missing.status, reason: filledReason(missing), durationMs, filled: missing.cause };
}

/** What the user's stop (Ctrl-C, SIGTERM, SIGHUP) leaves the cases it cut short. */
export const interruptedRun: Missing = { status: 'error', cause: 'stopped', detail: 'the run was interrupted' };

/** What a run that never finished (killed outright) left without a result, once read back. */
export const unfinishedRun: Missing = { status: 'error', cause: 'unfinished', detail: 'the run did not finish' };

/** The words a filled result was given, as they were given: a saved run's stop, replayed,
 * leaves the cases it cuts short what the run left them. */
export function missingOf(result: CaseResult): Missing | null {
  if (result.filled === undefined || !result.reason?.startsWith(noResult)) return null;
  return { status: result.status, cause: result.filled, detail: result.reason.slice(noResult.length) };
}
