import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The temporary directories faultline makes outside its cache: QEMU's sockets and swap disk,
 * a Debian package while it downloads and unpacks. */
export type TempDirKind = 'faultline-qemu' | 'faultline-deb';

const kinds: readonly TempDirKind[] = ['faultline-qemu', 'faultline-deb'];

// A run killed outright (kill -9, OOM) cannot remove its own: the name carries the pid that made
// it, so a later run can tell a dead run's leftovers from a live run's.
export function makeTempDir(kind: TempDirKind): Promise<string> {
  return mkdtemp(join(tmpdir(), `${kind}-${process.pid}-`));
}

const ownName = new RegExp(`^(${kinds.join('|')})-(\\d+)-[A-Za-z0-9]{6}$`);

/** Removes this user's temporary directories whose process is gone; the paths it removed. */
export async function sweepStaleTempDirs(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(ownName.exec(name)?.[2]);
    if (!pid || processLives(pid)) continue;
    const path = join(dir, name);
    const info = await lstat(path).catch(() => null);
    if (!info?.isDirectory() || info.uid !== process.getuid?.()) continue;
    // Another run may sweep the same directory at the same moment; whoever is second finds nothing.
    await rm(path, { recursive: true, force: true }).then(() => removed.push(path), () => {});
  }
  return removed;
}

function processLives(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it lives, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
