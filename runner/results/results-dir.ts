import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../errors.js';
import type { RunEvent } from '../events.js';
import { TapReporter } from '../reporters/tap.js';
import { summarize, type RunDocument } from './run-document.js';

// Keeps results/<stamp>/ current while the run goes: run.json is rewritten (atomically) and
// results.tap appended as each result arrives, so an interrupted run leaves what finished.
export class ResultsDirectory {
  readonly doc: RunDocument;
  private readonly tap: TapReporter;

  constructor(
    readonly dir: string,
    command: string[],
    private readonly extraJson: string | null,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'results.tap'), '');
      if (extraJson) mkdirSync(dirname(extraJson), { recursive: true });
    } catch (cause) {
      throw new FaultlineError('io', `cannot write results to ${dir}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, {
        hint: 'Choose a writable directory with --results DIR.',
        cause,
      });
    }
    this.doc = { version: 1, startedAt: new Date().toISOString(), finishedAt: null, command, kernels: [], results: [], restarts: [], findings: [], summary: summarize([]), exitCode: null };
    this.tap = new TapReporter((text) => appendFileSync(join(dir, 'results.tap'), text));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  handle(event: RunEvent): void {
    this.tap.handle(event);
    switch (event.type) {
      case 'kernel-ready':
        this.doc.kernels.push(event.kernel);
        if (event.qemuCommand) writeFileSync(this.path(join(event.dir, 'qemu-command.txt')), `${event.qemuCommand.map(shellQuote).join(' ')}\n`);
        break;
      case 'case-result':
        this.doc.results.push(event.result);
        break;
      case 'guest-restart':
        this.doc.restarts.push({ kernel: event.kernel, guest: event.guest, cases: event.cases, reason: event.reason });
        writeFileSync(this.path(join(event.dir, `qemu-command-${event.guest}.txt`)), `${event.qemuCommand.map(shellQuote).join(' ')}\n`);
        break;
      case 'kernel-finding':
        this.doc.findings.push({ kernel: event.kernel, ...event.finding });
        break;
      case 'run-end':
        this.doc.finishedAt = new Date().toISOString();
        this.doc.exitCode = event.exitCode;
        break;
      default:
        return;
    }
    this.doc.summary = summarize(this.doc.results);
    const text = `${JSON.stringify(this.doc, null, 2)}\n`;
    writeAtomically(this.path('run.json'), text);
    if (this.extraJson) writeAtomically(this.extraJson, text);
  }
}

/** Readers (and a run killed mid-write) see the old document or the new one, never half of one. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.partial`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Quotes an argument only when the shell would split or expand it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,+@%-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
