import { randomUUID } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Lock {
  release(): Promise<void>;
}

// A scratch tree is patched and built in place, so two builds must never share one at the same
// time. The lock file holds the owner's pid; a lock whose owner died is taken over.
export async function acquireLock(
  path: string,
  opts: { signal?: AbortSignal; onWait?: (holderPid: number) => void; pollMs?: number } = {},
): Promise<Lock> {
  const token = `${process.pid} ${randomUUID()}`;
  let waited = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    // The token is written first and linked into place, so nobody ever reads a lock file that
    // exists but does not yet name its owner (which would look like a dead owner).
    const staged = `${path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(staged, token);
    try {
      await link(staged, path);
      return {
        release: async () => {
          const current = await readFile(path, 'utf8').catch(() => null);
          if (current === token) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await rm(staged, { force: true });
    }
    const holder = await readFile(path, 'utf8').catch(() => '');
    const pid = Number(holder.split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
      // the owner is gone: take over, unless someone else already did (two takers reading the same
      // dead owner in the same instant can still both remove it; rare, and a dead owner first)
      if ((await readFile(path, 'utf8').catch(() => null)) === holder) await rm(path, { force: true });
      continue;
    }
    if (!waited) opts.onWait?.(pid);
    waited = true;
    await sleep(opts.pollMs ?? 500, undefined, opts.signal ? { signal: opts.signal } : {});
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
