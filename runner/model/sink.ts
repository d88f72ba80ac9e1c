import type { CaseRef, CaseResult } from './types.js';

/** Where one kernel's executor reports: the run's store, or a rerun's own record. */
export interface ResultSink {
  /** Keeps the first result for a planned case; says whether this one was kept. */
  report(result: CaseResult): boolean;
  has(ref: CaseRef): boolean;
}
