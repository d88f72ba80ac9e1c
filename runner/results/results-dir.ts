import { appendFileSync, copyFileSync, writeFileSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import type { RunEvent } from '../events.js';
import { errnoText, makeDirectory, writeAtomically } from '../core/files.js';
import { runDocument, runHeadDocument } from '../model/document.js';
import type { JsonTarget } from './location.js';
import { TapReporter } from '../reporters/tap.js';
import type { RunModel } from '../model/types.js';
import { comparisonDocument } from './run-files.js';
import { EventJournal } from './journal.js';
import { filesIn, type KernelFiles } from './kernel-files.js';

// Keeps results/<stamp>/ current while the run goes, in bytes that grow with the run and no
// faster: events.jsonl (every event, each result in it) and results.tap are appended as things
// happen; run.json is the run's head (plan, kernels, host) while it goes, replaced atomically as
// the run and each kernel start and end, and the whole document once at the end (with --json).
// A run killed at any moment leaves every result it recorded: readRun puts the head and the
// journal together. `dir` exists already (claimResultsDirectory); guests write their own files in it.
export class ResultsDirectory {
  private readonly tap: TapReporter;
  private readonly journal: EventJournal;
  private model: RunModel | null = null;
  private text = '';

  constructor(
    readonly dir: string,
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
    this.tap = new TapReporter((text) => appendFileSync(join(dir, 'results.tap'), text));
    this.journal = new EventJournal(dir);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** A kernel's directory in this one ('' for its top): the engine writes its guests' files through it. */
  kernelFiles(dir: string): KernelFiles {
    return filesIn(this.dir, dir);
  }

  /** The suites as they were when the run started, so `report --reparse` reads the run again as it ran. */
  saveSuites(suites: readonly { name: string; file: string }[]): void {
    makeDirectory(this.path('suites'));
    for (const suite of suites) copyFileSync(suite.file, this.path(join('suites', `${suite.name}.yaml`)));
  }

  handle(event: RunEvent): void {
    this.tap.handle(event);
    this.journal.handle(event);
    if (event.type === 'run-start') this.model = event.model;
    if (!this.model) return;
    if (event.type === 'run-end') {
      if (this.model.comparisons.length > 0) writeAtomically(this.path('compare.json'), comparisonDocument(this.model));
      this.writeRun();
      return;
    }
    // Checkpoints of the head, a few per kernel, never per result: a result is in the journal
    // the moment it is recorded, and a run killed at any point is read back from the two.
    if (event.type === 'run-start' || event.type === 'kernel-ready' || event.type === 'kernel-end') writeAtomically(this.path('run.json'), runHeadDocument(this.model));
  }

  /** The final document, once: run.json whole, and --json where it can be replaced. */
  private writeRun(): void {
    if (!this.model) return;
    const text = runDocument(this.model);
    writeAtomically(this.path('run.json'), text);
    if (this.extraJson?.replace) writeAtomically(this.extraJson.path, text);
    // Kept only for a --json written through at close: the whole document, held no longer than that.
    else if (this.extraJson) this.text = text;
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

