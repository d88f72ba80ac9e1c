import type { CaseResult, CaseStatus, KernelInfo, KernelReport } from '../events.js';

// The machine-readable record of a run (run.json). `version` changes only when a field's
// meaning does, so CI scripts can rely on it.
export interface RunDocument {
  version: 1;
  startedAt: string;
  finishedAt: string | null;
  command: string[];
  kernels: KernelInfo[];
  results: CaseResult[];
  /** Fresh guests started after one died or hung, with why. */
  restarts: { kernel: string; guest: number; cases: number; reason: string }[];
  /** Splats printed while no case was running (each case's own are in its result). */
  findings: (KernelReport & { kernel: string })[];
  summary: Record<CaseStatus, number>;
  exitCode: number | null;
}

export const emptySummary = (): Record<CaseStatus, number> => ({ pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 });

export function summarize(results: readonly CaseResult[]): Record<CaseStatus, number> {
  const summary = emptySummary();
  for (const r of results) summary[r.status] += 1;
  return summary;
}

/** 0 when every case passed or skipped, 1 when any failed, timed out, crashed or errored. */
export function exitCodeFor(results: readonly CaseResult[]): number {
  return results.some((r) => r.status !== 'pass' && r.status !== 'skip') ? 1 : 0;
}
