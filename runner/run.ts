import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBaseImage, planArchive } from '../images/initramfs.js';
import { resolveKernel, type ResolvedKernel } from '../kernels/resolve.js';
import { formatKernelSpec, type KernelSpec } from '../kernels/spec.js';
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
import { abortExitCode } from './commands/interrupt.js';

export interface RunOptions {
  suites: string[];
  only: string[];
  /** Run on each in turn (several for --per-patch), all with the same plan. */
  kernels: KernelSpec[];
  accel: AccelMode;
  cacheDir: string;
  results: ResultsDirectory;
  signal?: AbortSignal;
}

/** Boot allowance on top of the cases' own time limits before the host watchdog stops QEMU. */
const bootAllowanceMs = 120_000;
/** Swap for the cases that need a page swapped out; sparse on the host. */
const swapDiskMiB = 64;

/** Where one kernel's files go: the results directory itself, or kernel-N/ when there are several. */
interface KernelRun {
  spec: KernelSpec;
  label: string;
  dir: string;
  path(name: string): string;
}

// The stages of a run, in order, each timed through events: suites once, then per kernel:
// kernel, helper, and either the host or image + accel + boot. Infrastructure failures throw.
export async function runSuites(opts: RunOptions, events: RunEvents): Promise<{ exitCode: number; results: CaseResult[] }> {
  const started = performance.now();
  const loaded = await events.stage('suites', undefined, async () => loadSuites(await suiteFiles(opts.suites), opts.only), (l) => ({
    detail: `${l.planned.length} case${l.planned.length === 1 ? '' : 's'} from ${l.suites.length} suite${l.suites.length === 1 ? '' : 's'}`,
  }));
  await writeFile(opts.results.path('plan.txt'), loaded.plan);
  const runs = opts.kernels.map((spec, i): KernelRun => {
    const dir = opts.kernels.length === 1 ? '' : `kernel-${i}`;
    if (dir) mkdirSync(opts.results.path(dir), { recursive: true });
    return { spec, label: formatKernelSpec(spec), dir, path: (name) => opts.results.path(join(dir, name)) };
  });
  events.emit({ type: 'run-start', resultsDir: opts.results.dir, kernels: runs.map((r) => r.label), cases: loaded.planned.length });

  const results: CaseResult[] = [];
  let exitCode = 3;
  try {
    for (const run of runs) {
      try {
        if (opts.signal?.aborted) throw opts.signal.reason;
        results.push(...(await runKernel(opts, events, run, loaded)));
      } catch (error) {
        // Stopped before this kernel reported (during its build, say): its cases are marked, not dropped.
        if (!opts.signal?.aborted) throw error;
        for (const p of loaded.planned) {
          const result: CaseResult = { kernel: run.label, suite: p.suite, case: p.case, status: 'error', reason: 'no result: the run was interrupted', durationMs: 0 };
          results.push(result);
          events.emit({ type: 'case-result', result });
        }
      }
    }
    exitCode = interruptedExitCode(opts.signal) ?? exitCodeFor(results);
    return { exitCode, results };
  } catch (error) {
    exitCode = error instanceof FaultlineError ? error.exitCode : 3;
    throw error;
  } finally {
    events.emit({ type: 'run-end', results, exitCode, ms: Math.round(performance.now() - started) });
  }
}

async function runKernel(opts: RunOptions, events: RunEvents, run: KernelRun, loaded: LoadedSuites): Promise<CaseResult[]> {
  const label = opts.kernels.length === 1 ? undefined : run.label;
  const kernel = await events.stage(
    'kernel',
    label,
    () =>
      resolveKernel(run.spec, {
        cacheDir: opts.cacheDir,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (p) => events.emit({ type: 'progress', stage: 'kernel', ...(label ? { kernel: label } : {}), step: p.step, detail: p.detail }),
      }),
    (k) => ({ cached: k.cached, detail: `${k.id}${k.release ? ` (${k.release})` : ''}` }),
  );
  const helper = await events.stage('helper', kernel.id, () => buildHelper({ headersDir: kernel.headersDir, cacheDir: opts.cacheDir }), (h) => ({
    cached: h.cached,
    detail: h.hash,
  }));
  return kernel.image === null ? runHost(opts, events, run, kernel, helper.path, loaded) : runGuest(opts, events, run, kernel, helper.path, loaded);
}

async function runHost(opts: RunOptions, events: RunEvents, run: KernelRun, kernel: ResolvedKernel, helper: string, loaded: LoadedSuites): Promise<CaseResult[]> {
  events.emit({ type: 'kernel-ready', kernel: { id: kernel.id, release: kernel.release, accel: 'host' }, dir: run.dir, qemuCommand: null });
  const stream = resultStream(run, events, kernel.id, loaded);
  const done = await events.stage('cases', kernel.id, () => runOnHost(helper, opts.results.path('plan.txt'), (chunk) => stream.write(chunk), opts.signal));
  if (done.exitCode === 2) {
    throw new FaultlineError('build', `the helper rejected the compiled plan: ${done.stderr.trim()}`, { where: opts.results.path('plan.txt') });
  }
  if (opts.signal?.aborted) return stream.finish({ status: 'error', reason: 'no result: the run was interrupted' });
  const reason = done.signal ? `no result: the helper was stopped by ${done.signal}` : `no result: the helper exited (${done.exitCode}) before this case reported`;
  return stream.finish({ status: 'crash', reason });
}

async function runGuest(opts: RunOptions, events: RunEvents, run: KernelRun, kernel: ResolvedKernel, helper: string, loaded: LoadedSuites): Promise<CaseResult[]> {
  const image = await events.stage('image', kernel.id, () => buildBaseImage({ helperPath: helper, cacheDir: opts.cacheDir }), (i) => ({ cached: i.cached, detail: i.hash }));
  const accel = await events.stage('accel', kernel.id, () => chooseAccel(opts.accel, kernel.image!, opts.cacheDir), (a) => ({
    cached: a.cached,
    detail: `${a.accel}: ${a.reason}`,
  }));
  // Kept beside the results, so qemu-command.txt there replays the run exactly.
  const initrd = run.path('initrd.img');
  await writeFile(initrd, Buffer.concat([await readFile(image.path), planArchive(loaded.plan)]));
  const cases = loaded.suites.flatMap((s) => s.cases);
  const hugepages = Math.max(0, ...cases.map(hugepagesNeeded));
  const needsSwap = cases.some((c) => c.needs.swap);
  const timeoutMs = bootAllowanceMs + cases.reduce((sum, c) => sum + c.timeoutMs, 0);
  const stream = resultStream(run, events, kernel.id, loaded);
  const boot = await events.stage('boot', kernel.id, () =>
    bootGuest({
      kernel: kernel.image!,
      initrd,
      accel: accel.accel as Accel,
      hugepages,
      ...(needsSwap ? { swapMiB: swapDiskMiB } : {}),
      consoleLog: run.path('console.log'),
      timeoutMs,
      onStart: (argv: string[]) =>
        events.emit({ type: 'kernel-ready', kernel: { id: kernel.id, release: kernel.release, accel: accel.accel as Accel }, dir: run.dir, qemuCommand: argv }),
      onResult: (chunk: string) => stream.write(chunk),
      ...(opts.signal ? { signal: opts.signal } : {}),
    }),
  );
  if (boot.agentExit === 2) {
    throw new FaultlineError('build', 'the helper in the guest rejected the compiled plan (its message is in console.log)', { where: run.path('console.log') });
  }
  const missing: { status: CaseStatus; reason: string } = boot.aborted
    ? { status: 'error', reason: 'no result: the run was interrupted' }
    : boot.timedOut
      ? { status: 'timeout', reason: `no result: the guest did not finish within ${Math.round(timeoutMs / 1000)}s (host watchdog); see console.log` }
      : { status: 'crash', reason: `no result: the guest stopped (QEMU exit ${boot.exitCode}) before this case reported; see console.log` };
  return stream.finish(missing);
}

/** 128 + the signal's number when the run was stopped by one (the abort reason carries which). */
function interruptedExitCode(signal: AbortSignal | undefined): number | null {
  return signal?.aborted ? abortExitCode(signal) : null;
}

/** Parses the result channel while keeping its raw bytes in results.raw for offline reading. */
function resultStream(run: KernelRun, events: RunEvents, kernel: string, loaded: LoadedSuites): { write(chunk: string): void; finish: CaseResultStream['finish'] } {
  const stream = new CaseResultStream(kernel, loaded.planned, (result) => events.emit({ type: 'case-result', result }));
  const raw = run.path('results.raw');
  writeFileSync(raw, '');
  return {
    write: (chunk) => {
      appendFileSync(raw, chunk);
      stream.write(chunk);
    },
    finish: (missing) => stream.finish(missing),
  };
}
