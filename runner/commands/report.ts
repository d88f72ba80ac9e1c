import { dirname } from 'node:path';
import { writeUserFile } from '../core/files.js';
import { readRun, runDocument } from '../model/document.js';
import { replayEvents } from '../model/replay-events.js';
import { verdictOf } from '../model/summary.js';
import { TapReporter } from '../reporters/tap.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { reparseRun } from '../reparse.js';
import { runFileOf } from '../model/document.js';
import { onGithub, writeReports } from '../results/final-reports.js';

// `faultline report DIR`: a saved run rendered again by the reporters that rendered it live;
// `--reparse` first rebuilds its results from the consoles and result channels it left.
export async function reportCommand(dir: string, flags: { tap?: boolean; reparse?: boolean; json?: string; junit?: string; html?: string; github?: boolean }): Promise<number> {
  const model = flags.reparse ? await reparseRun(dir) : readRun(dir);
  if (flags.json) writeUserFile(flags.json, runDocument(model));
  const out = flags.tap ? process.stderr : process.stdout;
  const notes = await writeReports(model, null, {
    github: onGithub(flags.github),
    annotate: (text) => out.write(text),
    ...(flags.junit ? { junit: flags.junit } : {}),
    ...(flags.html ? { html: flags.html } : {}),
  }, dirname(runFileOf(dir)));
  for (const message of notes) out.write(`note: ${message}\n`);
  if (flags.tap) {
    const tap = new TapReporter((text) => process.stdout.write(text));
    replayEvents(model, (e) => tap.handle(e));
  } else {
    const terminal = new TerminalReporter(process.stdout);
    replayEvents(model, (e) => terminal.handle(e), dir);
  }
  return model.exitCode ?? verdictOf(model, model.failOn).exitCode;
}
