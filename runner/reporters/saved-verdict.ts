import type { SavedVerdict } from '../model/document.js';
import { kernelLabel, verdictOf } from '../model/summary.js';
import { unfinishedResults } from '../model/unfinished.js';
import { caseKey, caseStatuses, type RunModel } from '../model/types.js';

// `faultline report` judges a saved run by its results, never by the verdict its run.json
// carries (a run killed outright has none; a file can be edited). Where the two part, one line
// says so: the cases a run that never finished left without a result, by name, or what run.json
// said against what the results say.
export function savedVerdictNote(model: RunModel, saved: SavedVerdict): string | null {
  const verdict = verdictOf(model, model.failOn);
  const unfinished = unfinishedResults(model);
  if (unfinished.length > 0) {
    const several = model.matrix.kernels.length > 1;
    const names = unfinished.map((r) => `${caseKey(r)}${several ? ` on ${kernelLabel(model, r.kernel)}` : ''}`);
    return `the run did not finish (run.json has no finishedAt: it was killed, or is still going); ${names.length} planned case${names.length === 1 ? '' : 's'} without a result count as errors, so report exits ${verdict.exitCode}: ${names.join(', ')}`;
  }
  const sameCounts = caseStatuses.every((s) => saved.summary[s] === model.summary[s]);
  if (sameCounts && saved.exitCode === verdict.exitCode) return null;
  const said = `${counts(saved.summary)}, exit ${saved.exitCode ?? 'none'}${saved.why.length ? ` (${saved.why.join('; ')})` : ''}`;
  return `run.json says ${said}; its results say ${counts(model.summary)}, exit ${verdict.exitCode}${verdict.why.length ? ` (${verdict.why.join('; ')})` : ''}, which report exits with`;
}

const counts = (summary: RunModel['summary']): string => caseStatuses.filter((s) => summary[s] > 0).map((s) => `${summary[s]} ${s}`).join(', ') || 'no results';
