import { interruptedRun, unfinishedRun } from './filled.js';
import { failsRun } from './status.js';
import { caseStatuses, type CaseResult, type CaseStatus, type ComparisonClass, type RunModel } from './types.js';

export function summarize(results: readonly CaseResult[]): Record<CaseStatus, number> {
  const summary = Object.fromEntries(caseStatuses.map((s) => [s, 0])) as Record<CaseStatus, number>;
  for (const r of results) summary[r.status] += 1;
  return summary;
}


/** "2 regressions", "1 regression", "3 fixed": a class's count in words. */
export const classCount = (cls: ComparisonClass, n: number): string => `${n} ${cls}${cls === 'regression' && n !== 1 ? 's' : ''}`;

/** What fails a run that compares kernels, by default. */
export const defaultFailOn: readonly ComparisonClass[] = ['regression'];

// The run's exit code from its model: a run that compares kernels follows the comparison (a
// case failing on the baseline and the series alike is no fault of the series); any other run
// fails on a case that failed unexpectedly. Stale expectations fail it only when asked.
export function verdictOf(model: RunModel, failOn: readonly ComparisonClass[] = defaultFailOn): { exitCode: number; why: string[] } {
  const why: string[] = [];
  if (model.comparisons.length > 0) {
    for (const comparison of model.comparisons) {
      for (const cls of failOn) {
        const n = comparison.counts[cls];
        if (n > 0) why.push(`${classCount(cls, n)} on ${comparison.candidate.label} against ${comparison.baseline.label}`);
      }
    }
  } else {
    const failed = model.results.filter(failsRun).length;
    if (failed > 0) why.push(`${failed} case${failed === 1 ? '' : 's'} did not pass`);
  }
  // Cases a stop or a kill left without a result may fail no comparison (both sides lack them),
  // yet the run did not test them: that alone fails it.
  for (const cut of [unfinishedRun, interruptedRun]) {
    const n = model.results.filter((r) => r.filled === cut.cause && r.expected === undefined).length;
    if (n > 0) why.push(`${cut.detail}: ${n} case${n === 1 ? '' : 's'} without a result`);
  }
  const stale = model.expectations?.strict ? model.expectations.stale.length : 0;
  if (stale > 0) why.push(`${stale} stale expectation${stale === 1 ? '' : 's'} (--strict-expect)`);
  return { exitCode: why.length > 0 ? 1 : 0, why };
}

/** A kernel's name for people, from its id (the id itself when the run never resolved it). */
export const kernelLabel = (model: RunModel, id: string): string => model.kernels.find((k) => k.id === id)?.label ?? id;
