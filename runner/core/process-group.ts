import { execa } from 'execa';
import { cLocaleEnv } from './env.js';

export interface GroupRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

// dpkg-deb extracts through processes of its own (a decompressor, tar) and apt-get downloads
// through its methods; killing the one process started leaves them writing on (measured: tar
// still extracting 2 s after dpkg-deb died). So the tool runs in a process group of its own,
// and a stop kills the whole group at once: what it was writing is thrown away anyway.
export async function runInOwnGroup(file: string, args: readonly string[], options: { cwd?: string; signal?: AbortSignal } = {}): Promise<GroupRun> {
  options.signal?.throwIfAborted();
  const child = execa(file, args, { reject: false, env: cLocaleEnv(), detached: true, stdin: 'ignore', ...(options.cwd ? { cwd: options.cwd } : {}) });
  const stop = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    const done = await child;
    return { exitCode: done.exitCode, stdout: String(done.stdout ?? ''), stderr: String(done.stderr ?? '') };
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}
