import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { release as osRelease } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from '../../runner/core/env.js';
import { FaultlineError } from '../../runner/core/errors.js';
import { buildFailure } from '../source/failure.js';
import { pathExists } from '../../runner/core/files.js';
import { hashParts } from '../../runner/core/hash.js';
import { bzImageRelease, readBzImageHead } from '../bzimage.js';
import { resolveMetaPackage } from '../debian.js';
import { acquireLock } from '../../runner/core/lock.js';
import { runMake } from '../source/make.js';
import { toolStep } from '../source/tool-step.js';
import type { KernelSpec } from '../spec.js';
import { selftestGeneration } from './programs.js';
import { copyTree, treeIdentity } from '../source/tree.js';

/** Where a kernel's selftests come from, before anything is copied or built: Debian's source
 * tarball, a tree the user named, or a source kernel's own tree (built with its series). */
export interface SelftestOrigin {
  kind: 'tarball' | 'tree' | 'source';
  path: string;
  /** For people: "Debian's linux-source-6.1", "the tree /src/linux". */
  what: string;
}

// Which selftests test a kernel: `--selftests-from TREE` for every kernel when given; else a
// source kernel's own tree, and for the others Debian's source of their series, found from the
// release the package name, the image or the host says.
export async function selftestOriginOf(spec: KernelSpec, from: string | null): Promise<SelftestOrigin> {
  if (from !== null) return treeOrigin(from);
  if (spec.kind === 'source') return { kind: 'source', path: spec.tree, what: `the tree ${spec.tree}` };
  return debianOrigin(await releaseOf(spec));
}

function treeOrigin(from: string): SelftestOrigin {
  const path = resolve(from);
  if (/\.tar(\.\w+)?$/.test(path) && existsSync(path)) return { kind: 'tarball', path, what: basename(path) };
  if (!selftestGeneration(path)) {
    throw new FaultlineError('usage', `--selftests-from ${from}: ${path} is not a Linux tree with userfaultfd selftests (no tools/testing/selftests/vm/userfaultfd.c or mm/uffd-unit-tests.c)`, {
      hint: 'Give the top directory of a Linux source tree from 4.11 on, or its tarball (linux-source-6.12.tar.xz).',
    });
  }
  return { kind: 'tree', path, what: `the tree ${from}` };
}

async function releaseOf(spec: Exclude<KernelSpec, { kind: 'source' }>): Promise<string> {
  if (spec.kind === 'host') return osRelease();
  if (spec.kind === 'debian') return (await resolveMetaPackage(spec.package)).replace(/^linux-image-/, '');
  if (spec.kind === 'deb') return /linux-image-(\d+\.\d+[^_]*)/.exec(basename(spec.path))?.[1] ?? basename(spec.path);
  return bzImageRelease(await readBzImageHead(spec.path)) ?? basename(spec.path);
}

const debianTarball = (series: string) => `/usr/src/linux-source-${series}.tar.xz`;

/** Debian's source of the kernel series a release belongs to (6.1.0-56-cloud-amd64 -> 6.1). */
function debianOrigin(release: string): SelftestOrigin {
  const series = /^(\d+\.\d+)/.exec(release)?.[1];
  const path = series ? debianTarball(series) : '';
  if (!series || !existsSync(path)) {
    throw new FaultlineError('kernel', `no selftests for ${release}: ${path || 'its series is unknown'} is not installed`, {
      hint: series ? `apt-get install linux-source-${series}, or give --selftests-from TREE` : 'Give --selftests-from TREE.',
    });
  }
  return { kind: 'tarball', path, what: `Debian's linux-source-${series}` };
}

/** A writable, unpacked copy with its UAPI headers made: Debian's tarball, or a user's tree. Made
 * under a lock, so two runs preparing the same tree take turns and the second finds it ready. */
export async function preparedTree(origin: SelftestOrigin & { kind: 'tarball' | 'tree' }, cacheDir: string, signal?: AbortSignal): Promise<string> {
  const key = origin.kind === 'tarball' ? tarballKey(origin.path) : hashParts(['tree', (await treeIdentity(origin.path, { cacheDir })).id]);
  const trees = join(cacheDir, 'selftests', 'trees');
  const root = join(trees, key);
  const ready = join(root, '.faultline-headers');
  if (await pathExists(ready)) return root;
  await mkdir(trees, { recursive: true });
  const lock = await acquireLock(`${root}.lock`, signal ? { signal } : {});
  try {
    if (await pathExists(ready)) return root;
    if (!(await pathExists(join(root, 'Makefile')))) await unpack(origin, root, signal);
    const log = join(root, '.faultline-headers.log');
    await writeFile(log, '');
    const made = await runMake(['-C', root, 'ARCH=x86_64', 'headers'], { cwd: root, logPath: log, ...(signal ? { signal } : {}) });
    if (made.aborted) signal?.throwIfAborted();
    if (made.exitCode !== 0) throw await buildFailure(`make headers in ${origin.what} failed`, log, root);
    await writeFile(ready, 'headers made\n');
    return root;
  } finally {
    await lock.release();
  }
}

function tarballKey(path: string): string {
  const stat = statSync(path);
  return hashParts(['tarball', path, String(stat.size), String(stat.mtimeMs)]);
}

// Into a temporary directory beside the cache entry, then renamed into place; copies a killed run
// left half-made are removed first (the lock is held, so nobody is making them).
async function unpack(origin: SelftestOrigin & { kind: 'tarball' | 'tree' }, root: string, signal?: AbortSignal): Promise<void> {
  const stale = (await readdir(dirname(root))).filter((n) => n.startsWith(`${basename(root)}.tmp-`));
  await Promise.all(stale.map((n) => rm(join(dirname(root), n), { recursive: true, force: true })));
  const tmp = await mkdtemp(`${root}.tmp-`);
  try {
    await toolStep(`unpacking ${origin.what} into the cache`, tmp, async () => {
      if (origin.kind === 'tarball') await execa('tar', ['-C', tmp, '--strip-components=1', '-xf', origin.path], { env: cLocaleEnv(), ...(signal ? { cancelSignal: signal } : {}) });
      else await copyTree(origin.path, tmp, signal);
    }, signal);
    await rm(root, { recursive: true, force: true });
    await rename(tmp, root);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
