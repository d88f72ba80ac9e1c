import { execa } from 'execa';

export interface HostRun {
  exitCode: number | null;
  signal: string | null;
  stderr: string;
  /** The run's stop (Ctrl-C, --timeout) ended the helper; absent from host-end.json files of older runs. */
  aborted?: boolean;
}

/** Runs the helper on a plan on the running kernel: for real, or a replay of a saved run. */
export type HostRunner = (helper: string, planFile: string, onData: (chunk: string) => void, signal?: AbortSignal) => Promise<HostRun>;

// `--kernel host`: the same helper and plan, straight on the running kernel. The helper itself
// skips what the host cannot give (huge pages, uffd permission) and names the fix; nothing
// here changes a system setting.
export const runOnHost: HostRunner = async (helper, planFile, onData, signal) => {
  const child = execa(helper, ['run', planFile], { reject: false, buffer: { stdout: false, stderr: true }, ...(signal ? { cancelSignal: signal } : {}) });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', onData);
  const done = await child;
  return { exitCode: done.exitCode ?? null, signal: done.signal ?? null, stderr: String(done.stderr ?? ''), aborted: done.isCanceled };
};
