import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../core/files.js';
import { runDocument } from '../model/document.js';
import { replayEvents } from './replay-events.js';
import type { RunModel } from '../model/types.js';
import { TapReporter } from '../reporters/tap.js';

/** compare.json: the comparisons alone, for a CI step that only wants to know what regressed. */
export function comparisonDocument(model: RunModel): string {
  return `${JSON.stringify({ version: 1, comparisons: model.comparisons }, null, 2)}\n`;
}

// The files of a finished run, written whole from its model: run.json, results.tap and, when
// kernels were compared, compare.json. A live run writes the same files as it goes.
export function writeRunFiles(dir: string, model: RunModel): void {
  writeAtomically(join(dir, 'run.json'), runDocument(model));
  let tap = '';
  const reporter = new TapReporter((text) => (tap += text));
  replayEvents(model, (e) => reporter.handle(e));
  writeFileSync(join(dir, 'results.tap'), tap);
  if (model.comparisons.length > 0) writeAtomically(join(dir, 'compare.json'), comparisonDocument(model));
}
