import { appendFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { buildBaseImage, planArchive } from '../images/initramfs.js';
import { resolveKernel, type ResolvedKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { FaultlineError } from './errors.js';
import type { Accel, CaseResult, CaseStatus, RunEvents } from './events.js';
import { buildHelper } from './helper/build.js';
import { runOnHost } from './host.js';
import { chooseAccel, type AccelMode } from './qemu/accel.js';
import { bootGuest } from './qemu/boot.js';
import { exitCodeFor } from './results/run-document.js';
import type { ResultsDirectory } from './results/results-dir.js';
import { loadSuites, suiteFiles, type LoadedSuites } from './suites.js';
import { CaseResultStream } from './tap/case-results.js';
import { hugepagesNeeded } from './suite/compile.js';

export interface RunOptions {
  suites: string[];
  only: string[];
  kernel: string;
  accel: AccelMode;
  cacheDir: string;
  results: ResultsDirectory;
  signal?: AbortSignal;
}

/** Boot allowance on top of the cases' own time limits before the host watchdog stops QEMU. */
const bootAllowanceMs = 120_000;
/** Swap for the cases that need a page swapped out; sparse on the host. */
const swapDiskMiB = 64;

// The stages of a run, in order, each timed through events: suites, kernel, helper, then either
// the host or image + accel + boot. Returns the exit code; infrastructure failures throw.
export async function runSuites(opts: RunOptions, events: RunEvents): Promise<{ exitCode: number; results: CaseResult[] }> {
  const started = performance.now();
  const loaded = await events.stage('suites', undefined, async () => loadSuites(await suiteFiles(opts.suites), opts.only), (l) => ({
    detail: `${l.planned.length} cases from ${l.suites.length} suite${l.suites.length === 1 ? '' : 's'}`,
  }));
  await writeFile(opts.results.path('plan.txt'), loaded.plan);
  const spec = parseKernelSpec(opts.kernel);
  events.emit({ type: 'run-start', resultsDir: opts.results.dir, kernels: [opts.kernel], cases: loaded.planned.length });

  let results: CaseResult[] = [];
  let exitCode = 3;
  try {
    const kernel = await events.stage('kernel', undefined, () => resolveKernel(spec, { cacheDir: opts.cacheDir }), (k) => ({
      cached: k.cached,
      detail: `${k.id}${k.release ? ` (${k.release})` : ''}`,
    }));
    const helper = await events.stage('helper', kernel.id, () => buildHelper({ headersDir: kernel.headersDir, cacheDir: opts.cacheDir }), (h) => ({
      cached: h.cached,
      detail: h.hash,
    }));
    results = kernel.image === null ? await runHost(opts, events, kernel, helper.path, loaded) : await runGuest(opts, events, kernel, helper.path, loaded);
    exitCode = interruptedExitCode(opts.signal) ?? exitCodeFor(results);
    return { exitCode, results };
  } catch (error) {
    exitCode = error instanceof FaultlineError ? error.exitCode : 3;
    throw error;
  } finally {
    events.emit({ type: 'run-end', results, exitCode, ms: Math.round(performance.now() - started) });
  }
}

async function runHost(opts: RunOptions, events: RunEvents, kernel: ResolvedKernel, helper: string, loaded: LoadedSuites): Promise<CaseResult[]> {
  events.emit({ type: 'kernel-ready', kernel: { id: kernel.id, release: kernel.release, accel: 'host' }, qemuCommand: null });
  const stream = resultStream(opts, events, kernel.id, loaded);
  const run = await events.stage('cases', kernel.id, () => runOnHost(helper, opts.results.path('plan.txt'), (chunk) => stream.write(chunk), opts.signal));
  if (run.exitCode === 2) {
    throw new FaultlineError('build', `the helper rejected the compiled plan: ${run.stderr.trim()}`, { where: opts.results.path('plan.txt') });
  }
  const reason = run.signal ? `no result: the helper was stopped by ${run.signal}` : `no result: the helper exited (${run.exitCode}) before this case reported`;
  return stream.finish({ status: run.signal === 'SIGTERM' || run.signal === 'SIGINT' ? 'error' : 'crash', reason });
}

async function runGuest(opts: RunOptions, events: RunEvents, kernel: ResolvedKernel, helper: string, loaded: LoadedSuites): Promise<CaseResult[]> {
  const image = await events.stage('image', kernel.id, () => buildBaseImage({ helperPath: helper, cacheDir: opts.cacheDir }), (i) => ({ cached: i.cached, detail: i.hash }));
  const accel = await events.stage('accel', kernel.id, () => chooseAccel(opts.accel, kernel.image!, opts.cacheDir), (a) => ({
    cached: a.cached,
    detail: `${a.accel}: ${a.reason}`,
  }));
  // Kept in the results directory, so qemu-command.txt there replays the run exactly.
  const initrd = opts.results.path('initrd.img');
  await writeFile(initrd, Buffer.concat([await readFile(image.path), planArchive(loaded.plan)]));
  const hugepages = Math.max(0, ...loaded.suites.flatMap((s) => s.cases.map(hugepagesNeeded)));
  const needsSwap = loaded.suites.some((s) => s.cases.some((c) => c.needs.swap));
  const caseTime = loaded.suites.flatMap((s) => s.cases).reduce((sum, c) => sum + c.timeoutMs, 0);
  const stream = resultStream(opts, events, kernel.id, loaded);
  const timeoutMs = bootAllowanceMs + caseTime;
  const boot = await events.stage('boot', kernel.id, () =>
    bootGuest({
      kernel: kernel.image!,
      initrd,
      accel: accel.accel as Accel,
      hugepages,
      ...(needsSwap ? { swapMiB: swapDiskMiB } : {}),
      consoleLog: opts.results.path('console.log'),
      timeoutMs,
      onStart: (argv: string[]) =>
        events.emit({ type: 'kernel-ready', kernel: { id: kernel.id, release: kernel.release, accel: accel.accel as Accel }, qemuCommand: argv }),
      onResult: (chunk: string) => stream.write(chunk),
      ...(opts.signal ? { signal: opts.signal } : {}),
    }),
  );
  const missing: { status: CaseStatus; reason: string } = boot.aborted
    ? { status: 'error', reason: 'no result: the run was interrupted' }
    : boot.timedOut
      ? { status: 'timeout', reason: `no result: the guest did not finish within ${Math.round(timeoutMs / 1000)}s (host watchdog); see console.log` }
      : { status: 'crash', reason: `no result: the guest stopped (QEMU exit ${boot.exitCode}) before this case reported; see console.log` };
  return stream.finish(missing);
}

/** 130 or 143 when the run was stopped by SIGINT or SIGTERM (the abort reason carries which). */
function interruptedExitCode(signal: AbortSignal | undefined): number | null {
  if (!signal?.aborted) return null;
  return (signal.reason as { exitCode?: number } | undefined)?.exitCode ?? 130;
}

/** Parses the result channel while keeping its raw bytes in results.raw for offline reading. */
function resultStream(opts: RunOptions, events: RunEvents, kernel: string, loaded: LoadedSuites): { write(chunk: string): void; finish: CaseResultStream['finish'] } {
  const stream = new CaseResultStream(kernel, loaded.planned, (result) => events.emit({ type: 'case-result', result }));
  const raw = opts.results.path('results.raw');
  writeFileSync(raw, '');
  return {
    write: (chunk) => {
      appendFileSync(raw, chunk);
      stream.write(chunk);
    },
    finish: (missing) => stream.finish(missing),
  };
}
