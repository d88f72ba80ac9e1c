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
}

export interface KernelInfo {
  id: string;
  release: string | null;
  accel: Accel | 'host';
}

export type RunEvent =
  | { type: 'run-start'; resultsDir: string | null; kernels: string[]; cases: number }
  | { type: 'stage-start'; stage: StageName; kernel?: string; detail?: string }
  | { type: 'stage-end'; stage: StageName; kernel?: string; ms: number; cached?: boolean; detail?: string }
  /** `dir`: where this kernel's files go inside the results directory ('' for its top). */
  | { type: 'kernel-ready'; kernel: KernelInfo; dir: string; qemuCommand: string[] | null }
  | { type: 'case-result'; result: CaseResult }
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
