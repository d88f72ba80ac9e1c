import type { ResultStore } from './model/store.js';
import type { CaseResult, KernelRecord, KernelReport, Rerun, RunModel } from './model/types.js';

// The engine never prints: it emits these events, and the terminal UI and the reporters
// consume them, reading the run model they are handed for everything else. Adding a reporter
// never touches the engine.
export type StageName = 'suites' | 'kernel' | 'helper' | 'selftests' | 'image' | 'accel' | 'boot' | 'cases' | 'rerun';

export type RunEvent =
  /** The plan is made: `model` is the run's record, kept current by the store from here on. */
  /** `share`: how many cases each kernel of the matrix runs here (fewer than planned in a shard). */
  | { type: 'run-start'; model: RunModel; resultsDir: string | null; jobs: number; share: number[] }
  /** `label`: the kernel the stage is for, as people call it (other events name a kernel by its id). */
  | { type: 'stage-start'; stage: StageName; label?: string; detail?: string }
  | { type: 'stage-end'; stage: StageName; label?: string; ms: number; cached?: boolean; detail?: string }
  | { type: 'kernel-ready'; kernel: KernelRecord }
  /** The helper marked the case's start (guests only). */
  | { type: 'case-start'; kernel: string; suite: string; case: string }
  | { type: 'case-result'; result: CaseResult }
  /** Everything for this kernel (by id) is in: its cases all have a result. */
  | { type: 'kernel-end'; kernel: string }
  | { type: 'rerun-result'; rerun: Rerun }
  /** The guest died or hung; a fresh one (number `guest`, from 2) runs the `cases` still without a result. */
  | { type: 'guest-restart'; kernel: string; guest: number; cases: number; reason: string }
  /** A kernel report printed while no case was running (boot, between cases). */
  | { type: 'kernel-report'; kernel: string; report: KernelReport }
  | { type: 'note'; kernel?: string; message: string }
  /** Inside a long stage (a kernel build): `step` changes rarely, `detail` (the file being compiled) often. */
  | { type: 'progress'; stage: StageName; label?: string; step: string; detail: string }
  /** Everything is in: results, reruns, comparisons and expectations; `why` explains a non-zero exit. */
  | { type: 'run-end'; model: RunModel; exitCode: number; why: string[]; ms: number };

export type RunEventListener = (event: RunEvent) => void;

/** Every change to the store becomes the event that tells reporters of it, in the store's order. */
export function announceStore(store: ResultStore, events: { emit(event: RunEvent): void }): void {
  store.on({
    result: (result) => events.emit({ type: 'case-result', result }),
    rerun: (rerun) => events.emit({ type: 'rerun-result', rerun }),
    restart: (r) => events.emit({ type: 'guest-restart', kernel: r.kernel, guest: r.guest, cases: r.cases, reason: r.reason }),
    report: ({ kernel, ...report }) => events.emit({ type: 'kernel-report', kernel, report }),
  });
}

/** A synchronous fan-out: listeners see events in emission order. */
export class RunEvents {
  private readonly listeners: RunEventListener[] = [];

  on(listener: RunEventListener): this {
    this.listeners.push(listener);
    return this;
  }

  emit(event: RunEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Times `work` as a stage, emitting its start and end. */
  async stage<T>(
    stage: StageName,
    label: string | undefined,
    work: () => Promise<T>,
    describe?: (value: T) => { cached?: boolean; detail?: string },
  ): Promise<T> {
    const started = performance.now();
    this.emit({ type: 'stage-start', stage, ...(label ? { label } : {}) });
    const value = await work();
    const ms = Math.round(performance.now() - started);
    this.emit({ type: 'stage-end', stage, ...(label ? { label } : {}), ms, ...(describe ? describe(value) : {}) });
    return value;
  }
}
