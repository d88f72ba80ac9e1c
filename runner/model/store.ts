import { availableParallelism } from 'node:os';
import { faultlineVersion } from '../core/version.js';
import { caseKey, type CaseRef, type CaseResult, type ComparisonClass, type ExpectedBy, type HostFacts, type KernelRecord, type KernelReport, type MatrixKernel, type PlannedCase, type Rerun, type Restart, type RunModel, type Shard } from './types.js';
import { defaultFailOn, summarize } from './summary.js';
import { filledResult, type Missing } from './filled.js';
import { runSchemaId } from './run-schema.js';


/** Told of every change, in order: reporters and the results directory listen here. */
export interface StoreListener {
  result?(result: CaseResult): void;
  rerun?(rerun: Rerun): void;
  restart?(restart: Restart): void;
  report?(report: KernelReport & { kernel: string }): void;
}

// The one owner of results: a result is kept only for a planned case, and only the first for
// each (kernel, case); whatever has no result when a kernel's work ends is marked, never
// dropped. Every stage reports here and asks here whether a case is done.
export class ResultStore {
  readonly model: RunModel;
  private readonly planned: Set<string>;
  private readonly done = new Map<string, CaseResult>();
  private readonly listeners: StoreListener[] = [];
  private readonly expect: ((result: CaseResult, kernel: KernelRecord | undefined) => ExpectedBy | undefined) | undefined;

  constructor(init: {
    command: string[];
    kernels: MatrixKernel[];
    cases: PlannedCase[];
    pairs?: [number, number][];
    failOn?: ComparisonClass[];
    shard?: Shard | null;
    startedAt?: Date;
    /** Who ran it and where, when not this faultline on this machine (a saved run read again). */
    origin?: { faultline: string | null; host: HostFacts | null };
    /** Marks a result an expectation accepts, as it arrives. */
    expect?: (result: CaseResult, kernel: KernelRecord | undefined) => ExpectedBy | undefined;
  }) {
    this.expect = init.expect;
    this.model = {
      $schema: runSchemaId,
      version: 4,
      faultline: init.origin ? init.origin.faultline : faultlineVersion,
      host: init.origin ? init.origin.host : { cpus: availableParallelism(), qemu: null },
      startedAt: (init.startedAt ?? new Date()).toISOString(),
      finishedAt: null,
      command: init.command,
      matrix: { kernels: init.kernels, cases: init.cases, pairs: init.pairs ?? [] },
      failOn: [...(init.failOn ?? defaultFailOn)],
      shard: init.shard ?? null,
      kernels: [],
      results: [],
      reruns: [],
      restarts: [],
      reports: [],
      comparisons: [],
      expectations: null,
      summary: summarize([]),
      exitCode: null,
      why: [],
    };
    this.planned = new Set(init.cases.map(caseKey));
  }

  on(listener: StoreListener): this {
    this.listeners.push(listener);
    return this;
  }

  addKernel(kernel: KernelRecord): void {
    if (this.model.kernels.some((k) => k.id === kernel.id)) return;
    this.model.kernels.push(kernel);
  }

  /** The QEMU this run's guests boot with, once a guest kernel is about to boot. */
  noteQemu(version: string | null): void {
    if (this.model.host && this.model.host.qemu === null) this.model.host.qemu = version;
  }

  /** Keeps the first result for a planned case; says whether this one was kept. */
  record(reported: CaseResult): boolean {
    const key = resultKey(reported.kernel, reported);
    if (!this.planned.has(caseKey(reported)) || this.done.has(key)) return false;
    const expected = this.expect?.(reported, this.model.kernels.find((k) => k.id === reported.kernel));
    const result = expected ? { ...reported, expected } : reported;
    this.done.set(key, result);
    this.model.results.push(result);
    // Counted as they come: summing every result again on each made a large run quadratic.
    this.model.summary[result.status] += 1;
    this.tell((l) => l.result?.(result));
    return true;
  }

  recordRerun(rerun: Rerun): void {
    this.model.reruns.push(rerun);
    this.tell((l) => l.rerun?.(rerun));
  }

  addRestart(restart: Restart): void {
    this.model.restarts.push(restart);
    this.tell((l) => l.restart?.(restart));
  }

  addReport(report: KernelReport & { kernel: string }): void {
    this.model.reports.push(report);
    this.tell((l) => l.report?.(report));
  }

  has(kernel: string, ref: CaseRef): boolean {
    return this.done.has(resultKey(kernel, ref));
  }

  /** Of these cases, those this kernel has no result for yet. */
  missing(kernel: string, cases: readonly CaseRef[]): CaseRef[] {
    return cases.filter((c) => !this.has(kernel, c));
  }

  /** Gives every one of these cases still without a result on this kernel `missing`. */
  fillMissing(kernel: string, cases: readonly CaseRef[], missing: Missing): void {
    for (const c of this.missing(kernel, cases)) this.record(filledResult(kernel, c, missing));
  }

  /** The run is over: results in a fixed order (kernels as planned, cases as planned), whatever
   * order they arrived in when kernels ran side by side. */
  finish(exitCode: number, why: readonly string[], finishedAt = new Date()): void {
    putInOrder(this.model);
    this.model.finishedAt = finishedAt.toISOString();
    this.model.exitCode = exitCode;
    this.model.why = [...why];
  }

  private tell(call: (listener: StoreListener) => void): void {
    for (const listener of this.listeners) call(listener);
  }
}

/** Kernels as planned, each kernel's results in plan order, reruns by attempt. */
export function putInOrder(model: RunModel): void {
  const kernelIndex = new Map(model.kernels.map((k) => [k.id, k.index] as const));
  const caseIndex = new Map(model.matrix.cases.map((c, i) => [caseKey(c), i] as const));
  const order = (r: CaseResult) => (kernelIndex.get(r.kernel) ?? 0) * (caseIndex.size + 1) + (caseIndex.get(caseKey(r)) ?? 0);
  model.results.sort((a, b) => order(a) - order(b));
  model.reruns.sort((a, b) => a.attempt - b.attempt || order(a) - order(b));
  model.kernels.sort((a, b) => a.index - b.index);
}

function resultKey(kernel: string, ref: CaseRef): string {
  return `${kernel}\0${caseKey(ref)}`;
}
