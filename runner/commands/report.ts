import { dirname } from 'node:path';
import { writeUserFile } from '../core/files.js';
import { readRunRecord, runDocument } from '../model/document.js';
import { narrate } from '../results/replay-events.js';
import { readJournal } from '../results/journal.js';
import { verdictOf } from '../model/summary.js';
import { savedVerdictNote } from '../reporters/saved-verdict.js';
import { stdoutFormat, stdoutReporter } from './stdout-format.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { reparseRun } from '../reparse.js';
import { runFileOf } from '../model/document.js';
import { onGithub, writeReports } from '../results/final-reports.js';
import { refuseUnsafeOutputs } from '../results/output-paths.js';

// `faultline report DIR`: a saved run rendered again by the reporters that rendered it live;
// `--reparse` first rebuilds its results from the consoles and result channels it left.
// Told in the order the run told it: the narration, then the reports written at its end.
export async function reportCommand(dir: string, flags: { tap?: boolean; ktap?: boolean; reparse?: boolean; json?: string; junit?: string; html?: string; github?: boolean }): Promise<number> {
  const format = stdoutFormat(flags);
  refuseUnsafeOutputs({ files: { '--json': flags.json, '--junit': flags.junit, '--html': flags.html }, reads: [{ path: dir, role: 'the run being reported' }] });
  const record = readRunRecord(dir);
  const model = flags.reparse ? await reparseRun(dir, record.model) : record.model;
  const resultsDir = dirname(runFileOf(dir));
  const journal = flags.reparse ? null : readJournal(resultsDir, model);
  if (flags.json) writeUserFile(flags.json, runDocument(model));
  const out = format ? process.stderr : process.stdout;
  if (format) {
    const reporter = stdoutReporter(format);
    narrate(model, journal, (e) => reporter.handle(e));
  }
  // A saved run has no progress to show: its narration is plain lines, as without a terminal.
  const terminal = new TerminalReporter({ write: (text: string) => out.write(text), isTTY: false });
  narrate(model, journal, (e) => terminal.handle(e), format ? null : dir);
  const notes = await writeReports(model, null, {
    github: onGithub(flags.github),
    annotate: (text) => out.write(text),
    ...(flags.junit ? { junit: flags.junit } : {}),
    ...(flags.html ? { html: flags.html } : {}),
  }, resultsDir);
  for (const message of notes) out.write(`note: ${message}\n`);
  // The results decide, not the exit code run.json kept (130 would say this report was interrupted).
  const differs = savedVerdictNote(model, record.saved);
  if (differs) process.stderr.write(`note: ${differs}\n`);
  return verdictOf(model, model.failOn).exitCode;
}
