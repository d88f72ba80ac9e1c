import { filledResult, unfinishedRun } from './filled.js';
import { shareOf } from './shard.js';
import { putInOrder } from './store.js';
import { summarize } from './summary.js';
import { caseKey, type CaseResult, type RunModel } from './types.js';
import { kernelDirOf, unresolvedKernel } from './unresolved.js';

// A run killed outright (SIGKILL, an OOM kill, a CI job's time-out) never wrote its end: run.json
// holds what finished and no more. Read back, the cases it planned and never reported are errors,
// so no report, comparison or verdict mistakes the rest for a run that passed or for cases removed.
// A kernel it never got ready has the record a run gives one that never resolved.
export function markUnfinished(model: RunModel): void {
  if (model.finishedAt !== null) return;
  const kernelCount = model.matrix.kernels.length;
  const casesOf = shareOf(kernelCount, model.matrix.cases, model.shard, model.matrix.pairs.length > 0);
  const done = new Set(model.results.map((r) => `${r.kernel}\0${caseKey(r)}`));
  model.matrix.kernels.forEach((planned, index) => {
    let kernel = model.kernels.find((k) => k.index === index);
    if (!kernel) {
      kernel = unresolvedKernel({ index, role: planned.role, dir: kernelDirOf(index, kernelCount) }, planned.spec);
      model.kernels.push(kernel);
    }
    for (const c of casesOf(index)) if (!done.has(`${kernel.id}\0${caseKey(c)}`)) model.results.push(filledResult(kernel.id, c, unfinishedRun));
  });
  putInOrder(model);
  model.summary = summarize(model.results);
}

/** The results a run that never finished left to be filled in when it was read back. */
export const unfinishedResults = (model: RunModel): CaseResult[] => model.results.filter((r) => r.filled === 'unfinished');
