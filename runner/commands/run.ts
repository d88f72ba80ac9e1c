import { join } from 'node:path';
import { RunEvents } from '../events.js';
import { cacheDir } from '../paths.js';
import type { AccelMode } from '../qemu/accel.js';
import { TapReporter } from '../reporters/tap.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { ResultsDirectory } from '../results/results-dir.js';
import { runSuites } from '../run.js';
import { defaultKernelSpec } from '../../kernels/default.js';

interface RunFlags {
  suite: string[];
  case: string[];
  kernel?: string;
  accel: AccelMode;
  tap?: boolean;
  json?: string;
  results?: string;
}

// `faultline run`: wires the reporters to the engine's events and turns Ctrl-C into a clean stop.
export async function runCommand(flags: RunFlags): Promise<number> {
  const kernel = flags.kernel ?? (await defaultKernelSpec());
  const results = new ResultsDirectory(flags.results ?? join('results', stamp(new Date())), process.argv.slice(1), flags.json ?? null);
  const events = new RunEvents().on((e) => results.handle(e));
  const terminal = new TerminalReporter(flags.tap ? process.stderr : process.stdout);
  events.on((e) => terminal.handle(e));
  if (flags.tap) {
    const tap = new TapReporter((text) => process.stdout.write(text));
    events.on((e) => tap.handle(e));
  }
  const abort = new AbortController();
  // A lasting listener, not `once`: execa's exit hook re-raises a signal it thinks nobody else
  // handles, which would kill us before QEMU is stopped and the results are written.
  // A second Ctrl-C gives up waiting.
  const stop = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (abort.signal.aborted) process.exit(code);
    process.exitCode = code;
    abort.abort(Object.assign(new Error(`stopped by ${signal}`), { exitCode: code }));
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  const { exitCode } = await runSuites(
    { suites: flags.suite, only: flags.case, kernel, accel: flags.accel, cacheDir: cacheDir(), results, signal: abort.signal },
    events,
  );
  return exitCode;
}

/** 2026-11-24T22-51-07: sortable, and safe in a file name. */
export function stamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}-${pad(date.getMinutes())}-${pad(date.getSeconds())}`;
}
