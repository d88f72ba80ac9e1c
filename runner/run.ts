import { formatKernelSpec, type KernelSpec } from '../kernels/spec.js';
import type { KselftestRunner } from './sources/kselftest/vmtests.js';
import type { ResolvedKernel } from '../kernels/resolve.js';
import { FaultlineError } from './core/errors.js';
import { announceStore } from './events.js';
import { applyExpectations, type ExpectationOptions } from './expect/apply.js';
import { prepareKernel, runCases, type KernelRunOptions, type KernelSlot, type PreparedKernel } from './kernel-run.js';
import { comparePairs } from './model/compare.js';
import type { ResultSink } from './model/sink.js';
import { shareOf } from './model/shard.js';
import { ResultStore } from './model/store.js';
import { defaultFailOn, verdictOf } from './model/summary.js';
import { kernelDirOf, unresolvedKernel } from './model/unresolved.js';
import { caseKey, type CaseRef, type ComparisonClass, type KernelRecord, type MatrixKernel, type PlannedCase, type Shard } from './model/types.js';
import { eachLimited, Mutex } from './parallel.js';
import type { GuestConfig } from './qemu/guest-config.js';
import type { RunServices } from './run-services.js';
import { runStop, type RunStop } from './stopping.js';
import type { LoadedSuites } from './suites.js';

/** A kernel of the matrix as the command line gave it. */
export type MatrixEntry = MatrixKernel<KernelSpec>;

/** What the run is asked to do: the cases, the kernels and how they are compared, how many at
 * once, which share (a shard), and when to stop. Built once by the command. */
export interface RunPlan {
  /** The cases, loaded and checked before anything else happens. */
  loaded: LoadedSuites;
  kernels: MatrixEntry[];
  /** Which kernel is compared with which: indexes into `kernels`, baseline first. */
  pairs: [number, number][];
  /** Guests of different kernels at once. */
  jobs: number;
  shard: Shard | null;
  /** How often a regression is rerun on both kernels, in fresh guests, before it is called one. */
  retries: number;
  failOn?: readonly ComparisonClass[];
  /** The whole run's limit (`--timeout`): cases still without a result then get `timeout`. */
  timeoutMs?: number;
  kselftestSizes: { mib?: number; bounces?: number };
  /** `--kselftest-runner`; faultline's own runs of the programs when absent. */
  kselftestRunner?: KselftestRunner;
  expectations?: ExpectationOptions | null;
}

/** The services, and for `report --reparse` the kernels of a saved run taken as they were and
 * the stop it ended with (its guests' ends say where the stop found them). */
export type MatrixServices = RunServices & { prepare?: (o: KernelRunOptions, slot: KernelSlot) => Promise<PreparedKernel>; stop?: RunStop };

// The stages of a run: the kernels of the matrix, several at once (each resolved, built and
// booted, its cases run), then the regressions rerun in fresh guests, the comparisons and the
// expectations. The store holds every result; the exit code is read from its model.
export async function runMatrix(options: RunPlan, guest: GuestConfig, services: MatrixServices, resultsDir: string | null): Promise<{ exitCode: number; why: string[] }> {
  const started = performance.now();
  const stop = services.stop ?? runStop(services.signal, options.timeoutMs);
  const signal = stop.signal;
  const { store, events } = services;
  const { loaded } = options;
  const model = store.model;
  model.matrix.pairs = options.pairs;
  model.failOn = [...(options.failOn ?? defaultFailOn)];
  announceStore(store, events);
  const slots = options.kernels.map((k, index): KernelSlot => ({ spec: k.spec, index, role: k.role, dir: kernelDirOf(index, options.kernels.length) }));
  const casesOf = shareOf(options.kernels.length, loaded.planned, options.shard, options.pairs.length > 0);
  const labels = new Labels();
  const kernelOptions: KernelRunOptions = { loaded, guest, kselftestSizes: options.kselftestSizes, ...(options.kselftestRunner ? { kselftestRunner: options.kselftestRunner } : {}), services, signal, stopped: () => stop.missing(), builds: new Mutex() };
  events.emit({ type: 'run-start', model, resultsDir, jobs: options.jobs, share: slots.map((s) => casesOf(s.index).length) });

  const prepared = new Map<number, PreparedKernel>();
  const failures: FaultlineError[] = [];
  let exit = { exitCode: 3, why: [] as string[] };
  try {
    await eachLimited(slots.filter((s) => casesOf(s.index).length > 0), options.jobs, async (slot) => {
      const cases = casesOf(slot.index);
      let kernel: KernelRecord | null = null;
      try {
        // A saved kernel is read again whatever the stop: it had started before the stop came.
        if (signal?.aborted && !services.prepare) throw signal.reason;
        const ready = await (services.prepare ? services.prepare(kernelOptions, slot) : prepareKernel(kernelOptions, slot, (r) => labels.of(r)));
        const twin = model.kernels.find((k) => k.id === ready.record.id);
        if (twin) {
          events.emit({ type: 'note', message: `${formatKernelSpec(slot.spec)} is the same kernel as ${twin.spec} (${twin.label}); its cases run once` });
          return;
        }
        kernel = ready.record;
        store.addKernel(kernel);
        prepared.set(slot.index, ready);
        await runCases(kernelOptions, ready, cases, sinkFor(store, kernel.id));
      } catch (error) {
        // Stopped (Ctrl-C, --timeout) or failed (a build, QEMU) before this kernel's cases all
        // reported: they are marked, never dropped, and the other kernels go on.
        kernel ??= unresolvedKernel(slot, model.matrix.kernels[slot.index]?.spec ?? formatKernelSpec(slot.spec));
        store.addKernel(kernel);
        if (signal?.aborted) return store.fillMissing(kernel.id, cases, stop.missing());
        const message = error instanceof Error ? error.message : String(error);
        kernel.failure ??= firstLine(message);
        store.fillMissing(kernel.id, cases, { status: 'error', cause: 'infrastructure', detail: firstLine(message) });
        if (!(error instanceof FaultlineError)) throw error;
        failures.push(error);
      } finally {
        if (kernel) events.emit({ type: 'kernel-end', kernel: kernel.id });
      }
    });
    if (!signal?.aborted) await rerunRegressions(options, kernelOptions, prepared, signal);
    model.comparisons = comparePairs(model);
    if (options.expectations) model.expectations = applyExpectations(model, options.expectations);
    const failure = failures[0];
    const signalled = stop.exitCode();
    if (failure) exit = { exitCode: failure.exitCode, why: [firstLine(failure.message)] };
    else if (signalled !== null) exit = { exitCode: signalled, why: ['stopped by a signal'] };
    else exit = verdictOf(model, model.failOn);
    if (failure) throw failure;
    return exit;
  } finally {
    store.finish(exit.exitCode, exit.why);
    events.emit({ type: 'run-end', model, exitCode: exit.exitCode, why: exit.why, ms: Math.round(performance.now() - started) });
  }
}

// Before a case is called a regression it runs again on both kernels, in fresh guests; a case
// whose outcome does not hold is flaky, not a regression (compare.ts reads the reruns).
async function rerunRegressions(options: RunPlan, kernelOptions: KernelRunOptions, prepared: Map<number, PreparedKernel>, signal: AbortSignal | undefined): Promise<void> {
  if (options.retries === 0 || options.pairs.length === 0) return;
  const { store, events } = kernelOptions.services;
  const model = store.model;
  const wanted = new Map<number, PlannedCase[]>();
  for (const comparison of comparePairs(model)) {
    const regressed = comparison.cases.filter((c) => c.class === 'regression').map((c) => options.loaded.planned.find((p) => p.suite === c.suite && p.case === c.case)!);
    for (const id of [comparison.baseline.id, comparison.candidate.id]) {
      const index = model.kernels.find((k) => k.id === id)!.index;
      const list = wanted.get(index) ?? [];
      for (const c of regressed) if (!list.includes(c)) list.push(c);
      wanted.set(index, list);
    }
  }
  const work = [...wanted].filter(([index, cases]) => cases.length > 0 && prepared.has(index));
  if (work.length === 0) return;
  const count = work.reduce((n, [, cases]) => Math.max(n, cases.length), 0);
  events.emit({ type: 'note', message: `${count} regression candidate${count === 1 ? '' : 's'}: rerun ${options.retries} time${options.retries === 1 ? '' : 's'} on both kernels in fresh guests` });
  // A stop (Ctrl-C, --timeout) during the reruns ends them; what it leaves unfinished is no
  // attempt, or a stopped rerun would make a regression look flaky.
  for (let attempt = 1; attempt <= options.retries && !signal?.aborted; attempt++) {
    await eachLimited(work, options.jobs, async ([index, cases]) => {
      const kernel = prepared.get(index)!;
      await runCases(kernelOptions, kernel, cases, rerunSink(store, kernel.record.id, cases, attempt, signal), attempt);
    });
  }
}

function sinkFor(store: ResultStore, kernel: string): ResultSink {
  return { report: (result) => store.record(result), has: (ref) => store.has(kernel, ref) };
}

/** A rerun keeps its own first result per case, recorded beside the run's, never instead of it. */
function rerunSink(store: ResultStore, kernel: string, cases: readonly CaseRef[], attempt: number, signal: AbortSignal | undefined): ResultSink {
  const planned = new Set(cases.map(caseKey));
  const seen = new Set<string>();
  return {
    report: (result) => {
      const key = caseKey(result);
      if (!planned.has(key) || seen.has(key) || signal?.aborted) return false;
      seen.add(key);
      store.recordRerun({ ...result, attempt });
      return true;
    },
    has: (ref) => seen.has(caseKey(ref)),
  };
}

/** Labels are for people, so two kernels never share one: the second gets its position. */
class Labels {
  private readonly taken = new Set<string>();

  of(resolved: ResolvedKernel): string {
    let label = resolved.label;
    for (let n = 2; this.taken.has(label); n++) label = `${resolved.label} (${n})`;
    this.taken.add(label);
    return label;
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.replace(/:$/, '');
}
