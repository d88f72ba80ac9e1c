import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBaseImage } from '../images/initramfs.js';
import { resolveKernel, type ResolvedKernel } from '../kernels/resolve.js';
import { formatKernelSpec, type KernelSpec } from '../kernels/spec.js';
import { FaultlineError } from './errors.js';
import type { Accel, CaseResult, RunEvents } from './events.js';
import { buildHelper } from './helper/build.js';
import { runOnHost } from './host.js';
import { chooseAccel, type AccelMode } from './qemu/accel.js';
import { exitCodeFor } from './results/run-document.js';
import type { ResultsDirectory } from './results/results-dir.js';
import type { LoadedSuites } from './suites.js';
import { checkScaledLimits } from './suite/compile.js';
import { CaseResultStream } from './tap/case-results.js';
import { rawLog } from './results/raw-log.js';
import { caseKey } from './console/watcher.js';
import { runGuestSession } from './guest/session.js';
import { runStop, type RunStop } from './stopping.js';

export interface RunOptions {
  /** The cases, loaded and checked before anything else happens. */
  loaded: LoadedSuites;
  /** Run on each in turn (several for --per-patch), all with the same plan. */
  kernels: KernelSpec[];
  accel: AccelMode;
  cacheDir: string;
  results: ResultsDirectory;
  /** Guest time limits are multiplied by this under TCG. */
  tcgSlowdown: number;
  /** The whole run's limit (`--timeout`): cases still without a result then get `timeout`. */
  timeoutMs?: number;
  /** Extra guest kernel command-line words. */
  append?: readonly string[];
  signal?: AbortSignal;
}

/** The options with the run's own stop: `signal` fires on the user's signal or the time limit. */
type RunContext = RunOptions & { stop: RunStop };

/** Where one kernel's files go: the results directory itself, or kernel-N/ when there are several. */
interface KernelRun {
  spec: KernelSpec;
  label: string;
  dir: string;
  path(name: string): string;
  /** What its results are filed under once the kernel resolved (the spec's text until then). */
  kernelId?: string;
}

// The stages of a run, in order, each timed through events, per kernel: kernel, helper, and
// either the host or image + accel + boot. Infrastructure failures throw.
export async function runSuites(options: RunOptions, events: RunEvents): Promise<{ exitCode: number; results: CaseResult[] }> {
  const started = performance.now();
  const stop = runStop(options.signal, options.timeoutMs);
  const opts: RunContext = { ...options, stop, ...(stop.signal ? { signal: stop.signal } : {}) };
  const loaded = opts.loaded;
  await writeFile(opts.results.path('plan.txt'), loaded.plan);
  const runs = opts.kernels.map((spec, i): KernelRun => {
    const dir = opts.kernels.length === 1 ? '' : `kernel-${i}`;
    if (dir) mkdirSync(opts.results.path(dir), { recursive: true });
    return { spec, label: formatKernelSpec(spec), dir, path: (name) => opts.results.path(join(dir, name)) };
  });
  events.emit({ type: 'run-start', resultsDir: opts.results.dir, kernels: runs.map((r) => r.label), cases: loaded.planned.length });

  // Everything reported, by whichever stage: run-end and the exit code count exactly these.
  const results: CaseResult[] = [];
  events.on((e) => {
    if (e.type === 'case-result') results.push(e.result);
  });
  const markMissing = (run: KernelRun, from: number, missing: { status: CaseResult['status']; reason: string }): void => {
    const done = new Set(results.slice(from).map(caseKey));
    for (const p of loaded.planned) {
      if (!done.has(caseKey(p))) events.emit({ type: 'case-result', result: { kernel: run.kernelId ?? run.label, ...p, ...missing, durationMs: 0 } });
    }
  };
  let exitCode = 3;
  try {
    for (const [index, run] of runs.entries()) {
      const from = results.length;
      try {
        if (opts.signal?.aborted) throw opts.signal.reason;
        await runKernel(opts, events, run, loaded);
      } catch (error) {
        // Stopped (Ctrl-C, --timeout) or failed (a build, QEMU) before this kernel's cases all
        // reported: they are marked, never dropped, and an infrastructure failure still ends the run.
        if (opts.signal?.aborted) {
          markMissing(run, from, stop.missing());
          continue;
        }
        const what = error instanceof FaultlineError ? error.message.split('\n')[0]!.replace(/:$/, '') : String(error);
        markMissing(run, from, { status: 'error', reason: `no result: ${what}` });
        for (const later of runs.slice(index + 1)) markMissing(later, results.length, { status: 'error', reason: `no result: the run stopped at ${run.label}: ${what}` });
        throw error;
      }
    }
    exitCode = stop.exitCode() ?? exitCodeFor(results);
    return { exitCode, results };
  } catch (error) {
    exitCode = error instanceof FaultlineError ? error.exitCode : 3;
    throw error;
  } finally {
    events.emit({ type: 'run-end', results, exitCode, ms: Math.round(performance.now() - started) });
  }
}

async function runKernel(opts: RunContext, events: RunEvents, run: KernelRun, loaded: LoadedSuites): Promise<void> {
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
  run.kernelId = kernel.id;
  const helper = await events.stage('helper', kernel.id, () => buildHelper({ headersDir: kernel.headersDir, cacheDir: opts.cacheDir }), (h) => ({
    cached: h.cached,
    detail: h.hash,
  }));
  return kernel.image === null ? runHost(opts, events, run, kernel, helper.path, loaded) : runGuest(opts, events, run, kernel, helper.path, loaded);
}

async function runHost(opts: RunContext, events: RunEvents, run: KernelRun, kernel: ResolvedKernel, helper: string, loaded: LoadedSuites): Promise<void> {
  events.emit({ type: 'kernel-ready', kernel: { id: kernel.id, release: kernel.release, accel: 'host', timeoutScale: 1 }, dir: run.dir, qemuCommand: null });
  const stream = new CaseResultStream(kernel.id, loaded.planned, (result) => events.emit({ type: 'case-result', result }));
  const raw = rawLog(run.path('results.raw'));
  const done = await events.stage('cases', kernel.id, () =>
    runOnHost(helper, opts.results.path('plan.txt'), (chunk) => {
      raw(chunk);
      stream.write(chunk);
    }, opts.signal),
  );
  if (done.exitCode === 2) {
    throw new FaultlineError('build', `the helper rejected the compiled plan: ${done.stderr.trim()}`, { where: opts.results.path('plan.txt') });
  }
  if (opts.signal?.aborted) return void stream.finish(opts.stop.missing());
  const reason = done.signal ? `no result: the helper was stopped by ${done.signal}` : `no result: the helper exited (${done.exitCode}) before this case reported`;
  stream.finish({ status: 'crash', reason });
}

async function runGuest(opts: RunContext, events: RunEvents, run: KernelRun, kernel: ResolvedKernel, helper: string, loaded: LoadedSuites): Promise<void> {
  const image = await events.stage('image', kernel.id, () => buildBaseImage({ helperPath: helper, cacheDir: opts.cacheDir }), (i) => ({ cached: i.cached, detail: i.hash }));
  const accel = await events.stage('accel', kernel.id, () => chooseAccel(opts.accel, kernel.image!, opts.cacheDir), (a) => ({
    cached: a.cached,
    detail: `${a.accel}: ${a.reason}`,
  }));
  const timeoutScale = accel.accel === 'tcg' ? opts.tcgSlowdown : 1;
  checkScaledLimits(loaded.suites, timeoutScale, 'under TCG');
  await events.stage('boot', kernel.id, () =>
    runGuestSession({
      kernelId: kernel.id,
      kernelImage: kernel.image!,
      accel: accel.accel as Accel,
      timeoutScale,
      append: opts.append ?? [],
      baseImage: image.path,
      loaded,
      files: run,
      events,
      signal: opts.signal,
      stopped: () => opts.stop.missing(),
      onFirstStart: (argv) =>
        events.emit({ type: 'kernel-ready', kernel: { id: kernel.id, release: kernel.release, accel: accel.accel as Accel, timeoutScale }, dir: run.dir, qemuCommand: argv }),
    }),
  );
}
