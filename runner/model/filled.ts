import type { CaseRef, CaseResult, CaseStatus, FillCause } from './types.js';

/** What a case gets when the runner, not the guest, gives it its result: a status, why, and the
 * words for people. */
export interface Missing {
  status: CaseStatus;
  cause: FillCause;
  /** What happened, without the "no result" that every such reason starts with. */
  detail: string;
}

/** The one place a filled result's reason is worded for people. */
export function filledReason(missing: Missing): string {
  return `no result: ${missing.detail}`;
}

/** The result the runner gives a case it has none for. */
export function filledResult(kernel: string, ref: CaseRef, missing: Missing, durationMs = 0): CaseResult {
  return { kernel, suite: ref.suite, case: ref.case, status: missing.status, reason: filledReason(missing), durationMs, filled: missing.cause };
}
