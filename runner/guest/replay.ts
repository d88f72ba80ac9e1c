import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FaultlineError, type ErrorKind } from '../core/errors.js';
import { errnoText } from '../core/files.js';
import type { HostRun, HostRunner } from '../host.js';
import type { Booter, BootResult } from '../qemu/boot.js';
import { LineSplitter } from '../qemu/lines.js';

// A saved guest played back: its console, then its result channel, then the end the host saw
// (guest-end.json), through the same session code that ran it live. The guest is the one whose
// console the session asks for: console-2.log is the second guest's, console-rerun1.log the
// first rerun's. `report --reparse` reads a run again this way, and tests run whole runs from
// recordings in milliseconds.
export function replayBooter(savedDir: string): Booter {
  return async (opts) => {
    const tag = basename(opts.consoleLog ?? 'console.log').replace(/^console/, '').replace(/\.log$/, '');
    const end = JSON.parse(await read(join(savedDir, `guest-end${tag}.json`))) as Omit<BootResult, 'argv' | 'stderr'> & { failed?: SavedFailure };
    if (end.failed) throw new FaultlineError(end.failed.kind, end.failed.message, { ...(end.failed.where ? { where: end.failed.where } : {}), ...(end.failed.hint ? { hint: end.failed.hint } : {}) });
    // The console as bytes, as QEMU wrote them, so every line is where it was (its excerpt's offsets).
    const [console, results] = await Promise.all([readBytes(join(savedDir, `console${tag}.log`)), read(join(savedDir, `results${tag}.raw`))]);
    const argv = ['replay', join(savedDir, `console${tag}.log`)];
    opts.onStart?.(argv);
    const lines = new LineSplitter((line, span) => opts.onConsoleLine?.(line, span));
    lines.write(console);
    lines.end();
    opts.onExit?.();
    if (results) opts.onResult?.(results);
    return { ...end, argv, stderr: '' };
  };
}

/** The host's saved result channel and how the helper ended (host-end.json). */
export function replayHost(savedDir: string): HostRunner {
  return async (_helper, planFile, onData) => {
    const tag = basename(planFile).replace(/^plan/, '').replace(/\.txt$/, '');
    const results = await read(join(savedDir, `results${tag}.raw`));
    if (results) onData(results);
    return JSON.parse(await read(join(savedDir, `host-end${tag}.json`))) as HostRun;
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
