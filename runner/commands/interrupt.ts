import { signalAbortReason, signalExitCodes } from '../core/abort.js';

// Turns Ctrl-C, kill and a closed terminal into an abort that stops QEMU and make cleanly; the
// abort reason carries the exit code (128 + signal). A second signal gives up waiting.
// Lasting listeners, not `once`: execa's exit hook re-raises a signal it thinks nobody else
// handles, which would kill us before children are stopped and the results are written.
export function abortOnSignals(): AbortController {
  const abort = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    const reason = signalAbortReason(signal);
    if (abort.signal.aborted) process.exit(reason.exitCode);
    process.exitCode = reason.exitCode;
    abort.abort(reason);
  };
  for (const signal of Object.keys(signalExitCodes) as NodeJS.Signals[]) process.on(signal, stop);
  return abort;
}
