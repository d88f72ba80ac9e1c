const exitCodes: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

// Turns Ctrl-C, kill and a closed terminal into an abort that stops QEMU and make cleanly; the
// abort reason carries the exit code (128 + signal). A second signal gives up waiting.
// Lasting listeners, not `once`: execa's exit hook re-raises a signal it thinks nobody else
// handles, which would kill us before children are stopped and the results are written.
export function abortOnSignals(): AbortController {
  const abort = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    const code = exitCodes[signal] ?? 130;
    if (abort.signal.aborted) process.exit(code);
    process.exitCode = code;
    abort.abort(Object.assign(new Error(`stopped by ${signal}`), { exitCode: code }));
  };
  for (const signal of Object.keys(exitCodes) as NodeJS.Signals[]) process.on(signal, stop);
  return abort;
}

/** The exit code an abort from abortOnSignals carries. */
export function abortExitCode(signal: AbortSignal): number {
  return (signal.reason as { exitCode?: number } | undefined)?.exitCode ?? 130;
}
