import type { CaseStatus, SkipCause } from './types.js';

// One vocabulary for how a case ended and one rule for what of it is a failure: the comparison,
// the verdict, and every report (terminal, TAP, JUnit, GitHub, HTML) read these, never their own
// lists of statuses. The helper's C side prints the same words (suites/native/tap.c).

/** Did not pass and was not skipped: the case's check failed, or it never finished. */
export const isFailingStatus = (s: CaseStatus): boolean => s !== 'pass' && s !== 'skip';

/** The failing statuses the helper reports itself, with its reason, in a result's diagnostics. */
export const reportedFailures: readonly CaseStatus[] = ['fail', 'timeout', 'crash', 'error'];

/** A skip for the kernel's release (a gate decided before the case runs) or for a resource the
 * machine lacks says nothing about the kernel: it is never a regression, and never rerun. */
export const skipNeverRegresses = (r: { status: CaseStatus; skipCause?: SkipCause }): boolean => r.status === 'skip' && (r.skipCause === 'release' || r.skipCause === 'resource');

/** A failing result fails the run unless an expectation accepts it. */
export const failsRun = (r: { status: CaseStatus; expected?: unknown }): boolean => isFailingStatus(r.status) && r.expected === undefined;

/** How JUnit files a status: `fail` is the case's own check (a failure); a case that did not
 * finish (timeout, crash, error) is an error; null for a pass. */
export function junitElement(s: CaseStatus): 'failure' | 'error' | 'skipped' | null {
  if (s === 'skip') return 'skipped';
  if (s === 'fail') return 'failure';
  return isFailingStatus(s) ? 'error' : null;
}
