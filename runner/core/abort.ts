/** 128 + the signal's number: what a shell reports for a program its signal stopped. */
export const signalExitCodes: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** The reason an abort carries: the signal's words and the exit code the run ends with. */
export function signalAbortReason(signal: NodeJS.Signals): Error & { exitCode: number } {
  return Object.assign(new Error(`stopped by ${signal}`), { exitCode: signalExitCodes[signal] ?? 130 });
}

/** The exit code an abort from a signal carries. */
export function abortExitCode(signal: AbortSignal): number {
  return (signal.reason as { exitCode?: number } | undefined)?.exitCode ?? 130;
}
