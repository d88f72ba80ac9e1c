import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { reasonOf, type Engine } from '../../runner/core/engine/engine.js';
import type { EngineImage } from '../../runner/core/engine/images.js';
import { ownerLabels } from '../../runner/core/engine/owner.js';
import { FaultlineError } from '../../runner/core/errors.js';
import { isFile } from '../../runner/core/files.js';
import { hashParts } from '../../runner/core/hash.js';
import { tarToCpio, type RootfsSummary } from './rootfs-cpio.js';

/** An image's filesystem as the first initramfs segment of a guest, in the cache. */
export interface ExportedRootfs {
  /** The uncompressed newc archive. */
  path: string;
  summary: RootfsSummary;
  /** Read from the cache: no container was made. */
  cached: boolean;
}

/** Bump when the archive's layout (placeholders, format) changes so old exports are not reused. */
const EXPORT_FORMAT = 'faultline-rootfs-1';

export interface ExportOptions {
  cacheDir: string;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

// Uncompressed on purpose: under TCG the guest's kernel took 19.7 s to boot a gzip'd Debian
// userland (463 MB unpacked, 223 MB gzip'd) and 10.4 s for the plain archive; the cache holds
// the larger file once per image.
export async function exportRootfs(engine: Engine, image: EngineImage, o: ExportOptions): Promise<ExportedRootfs> {
  const key = hashParts([EXPORT_FORMAT, image.contentKey]);
  const dir = join(o.cacheDir, 'images');
  const path = join(dir, `rootfs-${key}.cpio`);
  const summaryPath = join(dir, `rootfs-${key}.json`);
  // The summary is written after the archive: its presence says the archive is whole.
  const saved = (await isFile(path)) ? await readSummary(summaryPath) : null;
  if (saved) return { path, summary: saved, cached: true };
  o.signal?.throwIfAborted();
  await mkdir(dir, { recursive: true }).catch((cause: unknown) => {
    throw new FaultlineError('io', `cannot create ${dir} for the guest image of ${image.name}`, { cause, hint: 'check that the cache directory is writable (FAULTLINE_CACHE)' });
  });
  await removeDeadExports(dir);
  const tmp = `${path}.${process.pid}.tmp`;
  o.onProgress?.(`exporting ${image.name}`);
  let summary: RootfsSummary;
  try {
    summary = await withExport(engine, image, o.signal, async (tar) => {
      const out = await open(tmp, 'w+');
      try {
        return await tarToCpio(tar, out, o.signal);
      } finally {
        await out.close();
      }
    });
    if (!summary.shell) throw noShell(image);
    await rename(tmp, path);
    await writeFile(`${summaryPath}.${process.pid}.tmp`, `${JSON.stringify(summary)}\n`);
    await rename(`${summaryPath}.${process.pid}.tmp`, summaryPath);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path, summary, cached: false };
}

// A created container (never started) of the image, its filesystem read as a tar, and the
// container removed however the read ends: finished, failed or stopped.
async function withExport<T>(engine: Engine, image: EngineImage, signal: AbortSignal | undefined, read: (tar: Readable) => Promise<T>): Promise<T> {
  let container: Docker.Container;
  try {
    container = await engine.docker.createContainer({
      Image: image.id,
      // An imported image has no command, and create wants one; it never runs.
      Cmd: ['/bin/sh'],
      Labels: ownerLabels(),
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none' },
    });
  } catch (cause) {
    throw new FaultlineError('engine', `the engine at ${engine.where} cannot create a container of ${image.name} to export it: ${reasonOf(cause)}`, {
      hint: `Check the image with \`docker image inspect ${image.name}\`.`,
      cause,
    });
  }
  let tar: Readable | null = null;
  const onAbort = () => tar?.destroy(signal?.reason instanceof Error ? signal.reason : new Error('stopped'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    tar = (await container.export()) as unknown as Readable;
    signal?.throwIfAborted();
    return await read(tar);
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    if (cause instanceof FaultlineError) throw cause;
    throw new FaultlineError('engine', `exporting ${image.name} (${image.id.slice(0, 19)}) from the engine at ${engine.where} failed: ${reasonOf(cause)}`, {
      hint: 'Check the engine\'s log and its free space; `docker export` of the same image shows the engine\'s own error.',
      cause,
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    tar?.destroy();
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

// A summary that does not read (a hand, a full disk) means the export is made again.
async function readSummary(path: string): Promise<RootfsSummary | null> {
  try {
    const summary = JSON.parse(await readFile(path, 'utf8')) as Partial<RootfsSummary>;
    return typeof summary.bytes === 'number' && typeof summary.unpackedBytes === 'number' && typeof summary.shell === 'boolean' && typeof summary.bash === 'boolean' ? (summary as RootfsSummary) : null;
  } catch {
    return null;
  }
}

// An export stopped by SIGKILL leaves its partial archive, named with the pid that wrote it.
async function removeDeadExports(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/^rootfs-\w+\.(?:cpio|json)\.(\d+)\.tmp$/.exec(name)?.[1]);
    if (pid && !processLives(pid)) await rm(join(dir, name), { force: true });
  }
}

function processLives(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function noShell(image: EngineImage): FaultlineError {
  return new FaultlineError('image', `the image ${image.name} (${image.id.slice(0, 19)}) has no /bin/sh, so faultline's agent (a shell script run as the guest's init) cannot run in it`, {
    where: image.name,
    hint: 'Give an image with a POSIX shell at /bin/sh (busybox, dash or bash; a FROM scratch image can COPY a static busybox to /bin/busybox and link /bin/sh to it), or use --image busybox.',
  });
}
