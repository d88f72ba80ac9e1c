import type { RunEvent, RunEventListener } from '../events.js';
import type { RunModel } from '../model/types.js';
import { verdictOf } from '../model/summary.js';
import { unfinishedResults } from '../model/unfinished.js';

// A saved run told again as the events of a live one, so every reporter renders it offline
// with the code that rendered it live: the run's own journal when it has one (what it told, in
// its order), else its results (`faultline merge`, `report --reparse`, runs from before journals).
export function narrate(model: RunModel, journal: readonly RunEvent[] | null, listener: RunEventListener, resultsDir: string | null = null): void {
  if (!journal) return replayEvents(model, listener, resultsDir);
  for (const event of journal) listener(event.type === 'run-start' ? { ...event, resultsDir } : event);
  // A run killed outright has no end in its journal: the cases it never reported are told as the
  // errors reading it back made them, and its results say how it stands.
  if (journal.at(-1)?.type === 'run-end') return;
  for (const result of unfinishedResults(model)) listener({ type: 'case-result', result });
  listener(endOf(model));
}

export function replayEvents(model: RunModel, listener: RunEventListener, resultsDir: string | null = null): void {
  listener({ type: 'run-start', model, resultsDir, jobs: 1, share: model.matrix.kernels.map(() => model.matrix.cases.length) });
  for (const kernel of model.kernels) {
    listener({ type: 'kernel-ready', kernel });
    for (const result of model.results.filter((r) => r.kernel === kernel.id)) listener({ type: 'case-result', result });
    listener({ type: 'kernel-end', kernel: kernel.id });
  }
  listener(endOf(model));
}

function endOf(model: RunModel): RunEvent {
  const verdict = verdictOf(model, model.failOn);
  const ms = model.finishedAt ? Date.parse(model.finishedAt) - Date.parse(model.startedAt) : 0;
  // A finished run says why it ended as it did; one that never finished is judged by its results.
  return { type: 'run-end', model, exitCode: model.exitCode ?? verdict.exitCode, why: model.exitCode === null ? verdict.why : model.why, ms };
}
