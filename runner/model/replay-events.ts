import type { RunEventListener } from '../events.js';
import type { RunModel } from './types.js';
import { verdictOf } from './summary.js';

// A saved run told again as the events of a live one, so every reporter renders it offline
// with the code that rendered it live (`faultline report`, `faultline merge`).
export function replayEvents(model: RunModel, listener: RunEventListener, resultsDir: string | null = null): void {
  listener({ type: 'run-start', model, resultsDir, jobs: 1, share: model.matrix.kernels.map(() => model.matrix.cases.length) });
  for (const kernel of model.kernels) {
    listener({ type: 'kernel-ready', kernel });
    for (const result of model.results.filter((r) => r.kernel === kernel.id)) listener({ type: 'case-result', result });
    listener({ type: 'kernel-end', kernel: kernel.id });
  }
  const verdict = verdictOf(model, model.failOn);
  const ms = model.finishedAt ? Date.parse(model.finishedAt) - Date.parse(model.startedAt) : 0;
  listener({ type: 'run-end', model, exitCode: model.exitCode ?? verdict.exitCode, why: verdict.why, ms });
}
