import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FaultlineError, type ErrorKind } from '../core/errors.js';
import { errnoText } from '../core/files.js';
import type { HostRun, HostRunner } from '../host.js';
import type { Booter, BootResult } from '../qemu/boot.js';
import { LineSplitter } from '../qemu/lines.js';

/** What a replay is told besides the saved channels. */
export interface ReplayHooks {
  /** A saved guest or helper ended by the run's stop, or cut off by a run killed outright (its
   * end was never written): the run stopped there. */
  onRunStop?(): void;
}

// A saved guest played back: its console, then its result channel, then the end the host saw
// (guest-end.json), through the same session code that ran it live. The guest is the one whose
// console the session asks for: console-2.log is the second guest's, console-rerun1.log the
// first rerun's. `report --reparse` reads a run again this way, and tests run whole runs from
// recordings in milliseconds. A guest with no saved end is one a run killed outright cut off:
// what its channels hold is played, and the run's stop ends it; one that never started (no
// qemu-command file, written as QEMU starts) is not started now either.
export function replayBooter(savedDir: string, hooks: ReplayHooks = {}): Booter {
  return async (opts) => {
    const tag = basename(opts.consoleLog ?? 'console.log').replace(/^console/, '').replace(/\.log$/, '');
    const endFile = join(savedDir, `guest-end${tag}.json`);
    const recorded = existsSync(endFile);
    const end = recorded ? (JSON.parse(await read(endFile)) as SavedEnd) : cutOff;
    if (end.failed) throw new FaultlineError(end.failed.kind, end.failed.message, { ...(end.failed.where ? { where: end.failed.where } : {}), ...(end.failed.hint ? { hint: end.failed.hint } : {}) });
    const started = recorded || existsSync(join(savedDir, `qemu-command${tag}.txt`));
    // A guest that ended wrote both channels whole; one cut off may not have opened them yet.
    const channel = (name: string) => (!started ? Promise.resolve(Buffer.alloc(0)) : recorded ? readBytes(join(savedDir, name)) : readIfThere(join(savedDir, name)));
    // The console as bytes, as QEMU wrote them, so every line is where it was (its excerpt's offsets).
    const [console, results] = await Promise.all([channel(`console${tag}.log`), channel(`results${tag}.raw`)]);
    const argv = ['replay', join(savedDir, `console${tag}.log`)];
    if (started) opts.onStart?.(argv);
    const lines = new LineSplitter((line, span) => opts.onConsoleLine?.(line, span));
    lines.write(console);
    lines.end();
    opts.onExit?.();
    if (results.length > 0) opts.onResult?.(results.toString('utf8'));
    if (end.aborted && end.recorded?.stoppedBy === null) hooks.onRunStop?.();
    const { failed: _, ...boot } = end;
    return { ...boot, argv, stderr: '', ...(recorded ? {} : { consoleBytes: console.length }) };
  };
}

type SavedEnd = Omit<BootResult, 'argv' | 'stderr'> & { failed?: SavedFailure };

/** The end of a guest a run killed outright cut off: the run's stop ended it, at no known moment. */
const cutOff: SavedEnd = {
  exitCode: null,
  signal: null,
  timedOut: false,
  aborted: true,
  ms: 0,
  agentExit: null,
  consoleBytes: 0,
  recorded: { stoppedBy: null, unfinishedMs: 0 },
};

/** The host's saved result channel and how the helper ended (host-end.json); a helper with no
 * saved end was cut off by a run killed outright. */
export function replayHost(savedDir: string, hooks: ReplayHooks = {}): HostRunner {
  return async (_helper, planFile, onData) => {
    const tag = basename(planFile).replace(/^plan/, '').replace(/\.txt$/, '');
    const endFile = join(savedDir, `host-end${tag}.json`);
    const recorded = existsSync(endFile);
    const resultsFile = join(savedDir, `results${tag}.raw`);
    const results = recorded ? await readBytes(resultsFile) : await readIfThere(resultsFile);
    if (results.length > 0) onData(results.toString('utf8'));
    const end: HostRun = recorded ? (JSON.parse(await read(endFile)) as HostRun) : { exitCode: null, signal: null, stderr: '', aborted: true };
    if (end.aborted) hooks.onRunStop?.();
    return end;
  };
}

interface SavedFailure {
  kind: ErrorKind;
  message: string;
  where?: string;
  hint?: string;
}

async function read(file: string): Promise<string> {
  return (await readBytes(file)).toString('utf8');
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new FaultlineError('usage', `cannot read ${file} of the saved run: ${errnoText(error)}`, { hint: 'A run is read again from the files it left; give a results directory faultline wrote, whole.' });
  }
}

/** A file a run killed outright may not have written yet: empty when it is not there. */
async function readIfThere(file: string): Promise<Buffer> {
  return existsSync(file) ? readBytes(file) : Buffer.alloc(0);
}
