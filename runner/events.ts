import type { SplatKind } from './console/splats.js';

// The engine never prints: it emits these events, and the terminal UI and the reporters
// consume them. Adding a reporter never touches the engine.
export type CaseStatus = 'pass' | 'fail' | 'skip' | 'timeout' | 'crash' | 'error';

export type Accel = 'kvm' | 'tcg';

export type StageName = 'suites' | 'kernel' | 'helper' | 'image' | 'accel' | 'boot' | 'cases';

export interface CaseResult {
  kernel: string;
  suite: string;
  case: string;
  status: CaseStatus;
  reason: string | null;
  durationMs: number;
  /** Kernel reports printed while the case ran; absent when there were none. */
  findings?: KernelReport[];
}

/** A splat from the guest console as it is reported. */
export interface KernelReport {
  kind: SplatKind;
  title: string;
  text: string;
  fatal: boolean;
  /** Why it did not fail the case (an allow-list entry's reason), when it did not. */
  allowed?: string;
  /** Allow patterns that were not applied to it because they ran too long. */
  allowSkipped?: string;
}

export interface KernelInfo {
  id: string;
  release: string | null;
  accel: Accel | 'host';
  /** Guest time limits are multiplied by this (the TCG slowdown factor; 1 under KVM). */
  timeoutScale: number;
}

export type RunEvent =
  | { type: 'run-start'; resultsDir: string | null; kernels: string[]; cases: number }
  | { type: 'stage-start'; stage: StageName; kernel?: string; detail?: string }
  | { type: 'stage-end'; stage: StageName; kernel?: string; ms: number; cached?: boolean; detail?: string }
  /** `dir`: where this kernel's files go inside the results directory ('' for its top). */
  | { type: 'kernel-ready'; kernel: KernelInfo; dir: string; qemuCommand: string[] | null }
  | { type: 'case-result'; result: CaseResult }
  /** The guest died or hung; a fresh one (number `guest`, from 2) runs the `cases` still without a result. */
  | { type: 'guest-restart'; kernel: string; dir: string; guest: number; cases: number; reason: string; qemuCommand: string[] }
  /** A splat printed while no case was running (boot, between cases). */
  | { type: 'kernel-finding'; kernel: string; finding: KernelReport }
  | { type: 'note'; kernel?: string; message: string }
  /** Inside a long stage (a kernel build): `step` changes rarely, `detail` (the file being compiled) often. */
  | { type: 'progress'; stage: StageName; kernel?: string; step: string; detail: string }
  | { type: 'run-end'; results: CaseResult[]; exitCode: number; ms: number };

export type RunEventListener = (event: RunEvent) => void;

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
    kernel: string | undefined,
    work: () => Promise<T>,
    describe?: (value: T) => { cached?: boolean; detail?: string },
  ): Promise<T> {
    const started = performance.now();
    this.emit({ type: 'stage-start', stage, ...(kernel ? { kernel } : {}) });
    const value = await work();
    const ms = Math.round(performance.now() - started);
    this.emit({ type: 'stage-end', stage, ...(kernel ? { kernel } : {}), ms, ...(describe ? describe(value) : {}) });
    return value;
  }
}
