import { abortExitCode } from './core/abort.js';
import { interruptedRun, type Missing } from './model/filled.js';
import { formatDuration } from './suite/schema.js';

/** Why a run stops early: a signal from the user, or its own time limit (`--timeout`). */
export interface RunStop {
  /** Aborted by either. */
  signal: AbortSignal | undefined;
  /** What the cases left without a result get. */
  missing(): Missing;
  /** 128 + the signal's number when the user stopped the run; null otherwise (the results decide). */
  exitCode(): number | null;
}

export function runStop(user: AbortSignal | undefined, limitMs: number | undefined): RunStop {
  const deadline = limitMs === undefined ? undefined : AbortSignal.timeout(limitMs);
  const signals = [user, deadline].filter((s): s is AbortSignal => s !== undefined);
  return {
    signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    missing: () =>
      user?.aborted || !deadline?.aborted
        ? interruptedRun
        : { status: 'timeout', cause: 'time-limit', detail: `the run's time limit (${formatDuration(limitMs!)}) ran out` },
    exitCode: () => (user?.aborted ? abortExitCode(user) : null),
  };
}
