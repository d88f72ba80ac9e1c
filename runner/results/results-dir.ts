import { appendFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../errors.js';
import type { RunEvent } from '../events.js';
import { errnoText, makeDirectory } from '../files.js';
import type { JsonTarget } from './location.js';
import { TapReporter } from '../reporters/tap.js';
import { summarize, type RunDocument } from './run-document.js';

// Keeps results/<stamp>/ current while the run goes: run.json is rewritten (atomically) and
// results.tap appended as each result arrives, so an interrupted run leaves what finished.
// `dir` exists already (claimResultsDirectory).
export class ResultsDirectory {
  readonly doc: RunDocument;
  private readonly tap: TapReporter;
  private text = '';

  constructor(
    readonly dir: string,
    command: string[],
    private readonly extraJson: JsonTarget | null,
  ) {
    try {
      writeFileSync(join(dir, 'results.tap'), '');
    } catch (cause) {
      throw new FaultlineError('io', `cannot write results to ${dir}: ${errnoText(cause)}`, { hint: 'Choose a writable directory with --results DIR.', cause });
    }
    try {
      if (extraJson) makeDirectory(dirname(extraJson.path));
    } catch (cause) {
      throw new FaultlineError('io', `cannot write --json ${extraJson!.path}: ${errnoText(cause)}`, { hint: 'Give a file in a writable directory.', cause });
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
    this.text = `${JSON.stringify(this.doc, null, 2)}\n`;
    writeAtomically(this.path('run.json'), this.text);
    if (this.extraJson?.replace) writeAtomically(this.extraJson.path, this.text);
  }

  /** Writes a `--json` that is not ours to replace (a FIFO, /dev/stdout, a symlink) once, through its path. */
  async close(): Promise<void> {
    if (!this.extraJson || this.extraJson.replace || this.text === '') return;
    try {
      const fd = this.extraJson.fd;
      if (fd === 1 || fd === 2) await writeStream(fd === 1 ? process.stdout : process.stderr, this.text);
      else if (fd !== undefined) writeSync(fd, this.text);
      else await writeFile(this.extraJson.path, this.text);
    } catch (cause) {
      throw new FaultlineError('io', `cannot write --json ${this.extraJson.path}: ${errnoText(cause)}`, { hint: `run.json in ${this.dir} holds the same document.`, cause });
    }
  }
}

function writeStream(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
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
