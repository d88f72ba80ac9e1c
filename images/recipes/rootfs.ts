import { copyFile, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../../runner/core/errors.js';
import { cLocaleEnv } from '../../runner/core/env.js';
import { makeDirectory, pathExists } from '../../runner/core/files.js';
import { hashParts } from '../../runner/core/hash.js';
import { acquireLock } from '../../runner/core/lock.js';
import { runInOwnGroup } from '../../runner/core/process-group.js';
import { requireTool } from '../../runner/core/tools.js';
import type { MirrorChoice } from './apt-mirror.js';
import type { RecipeOptions } from './options.js';
import type { DebootstrapRecipe } from './recipe-file.js';
import { removeRootfsDir } from './unmount-under.js';

/** Bumped when how a root file system is made or packed changes, so old tarballs are not reused. */
const rootfsFormat = 'debootstrap-rootfs-1';

const debianArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'i386', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };

export interface RecipeRootfs {
  /** A tar of the whole root file system, owners numeric, names sorted. */
  tarPath: string;
  /** What the tarball is made of: the recipe, the mirror, the architecture and this format. */
  key: string;
  /** True when the tarball was in the cache already. */
  cached: boolean;
}

export function rootfsKey(recipe: DebootstrapRecipe, mirror: MirrorChoice): string {
  const arch = debianArch[process.arch] ?? process.arch;
  return hashParts([rootfsFormat, recipe.suite, recipe.variant, recipe.packages.join(','), mirror.url, arch]);
}

export const recipesCacheDir = (cacheDir: string): string => join(cacheDir, 'images', 'recipes');

// The debootstrapped tree is cached as a tarball keyed by everything that shapes it, so a new
// engine (a test's, a CI runner's) imports it in seconds instead of running debootstrap again.
// Built under a lock (two runs may want the same recipe at once) into a temporary directory in
// the cache, then renamed into place whole.
export async function recipeRootfs(recipe: DebootstrapRecipe, mirror: MirrorChoice, o: RecipeOptions): Promise<RecipeRootfs> {
  const dir = recipesCacheDir(o.cacheDir);
  makeDirectory(dir);
  const key = rootfsKey(recipe, mirror);
  const tarPath = join(dir, `${recipe.name}-${key}.tar`);
  if (await pathExists(tarPath)) return { tarPath, key, cached: true };
  const lock = await acquireLock(`${tarPath}.lock`, {
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: (pid) => o.onProgress?.(`waiting for process ${pid}, which is making the ${recipe.name} root file system`),
  });
  try {
    if (await pathExists(tarPath)) return { tarPath, key, cached: true };
    await requireDebootstrap();
    await removeStaleWork(dir, recipe.name);
    const work = await mkdtemp(join(dir, `work-${recipe.name}-`));
    try {
      const root = join(work, 'root');
      await debootstrap(recipe, mirror, root, join(dir, `${recipe.name}-${key}.debootstrap.log`), o);
      await trimRootfs(root);
      o.onProgress?.(`packing the ${recipe.name} root file system`);
      const packed = await runInOwnGroup('tar', ['--sort=name', '--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '-C', root, '-cf', join(work, 'rootfs.tar'), '.'], o.signal ? { signal: o.signal } : {});
      o.signal?.throwIfAborted();
      if (packed.exitCode !== 0) throw new FaultlineError('image', `packing ${root} into a tarball failed: ${packed.stderr.trim().split('\n').slice(-3).join(' ')}`, { hint: 'Check the free space in the faultline cache.' });
      await rename(join(work, 'rootfs.tar'), tarPath);
    } finally {
      await removeRootfsDir(work);
    }
    return { tarPath, key, cached: false };
  } finally {
    await lock.release();
  }
}

async function requireDebootstrap(): Promise<void> {
  await requireTool('debootstrap', 'debootstrap', { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` });
  if (process.getuid?.() !== 0) {
    throw new FaultlineError('image', 'making a Debian root file system with debootstrap needs root (it creates device files and runs dpkg in a chroot)', {
      hint: 'Run `faultline image build NAME` once as root (e.g. `sudo -E`, keeping FAULTLINE_CACHE): the tarball it leaves in the cache is reused by every user of that cache.',
    });
  }
}

// Work directories of this recipe left by a process that was killed: the lock is held, so no
// live process owns one.
async function removeStaleWork(dir: string, name: string): Promise<void> {
  for (const entry of await readdir(dir)) if (entry.startsWith(`work-${name}-`)) await removeRootfsDir(join(dir, entry));
}

async function debootstrap(recipe: DebootstrapRecipe, mirror: MirrorChoice, root: string, logCopy: string, o: RecipeOptions): Promise<void> {
  // One .deb cache for every recipe, so the second recipe downloads only what it adds. debootstrap
  // writes there without a lock of its own, so two debootstraps take turns.
  const debs = join(recipesCacheDir(o.cacheDir), 'debs');
  makeDirectory(debs);
  const debsLock = await acquireLock(`${debs}.lock`, {
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: (pid) => o.onProgress?.(`waiting for process ${pid}, which is using the shared .deb cache`),
  });
  o.onProgress?.(`debootstrap ${recipe.suite} (${recipe.variant}, ${recipe.packages.length} packages) from ${mirror.url} (${mirror.from})`);
  const args = [`--variant=${recipe.variant}`, `--include=${recipe.packages.join(',')}`, `--cache-dir=${debs}`, recipe.suite, root, mirror.url];
  const tail: string[] = [];
  let aborted = false;
  try {
    const child = execa('debootstrap', args, { env: cLocaleEnv(), detached: true, stdin: 'ignore', all: true, buffer: false, reject: false });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    };
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    process.once('exit', killGroup);
    try {
      for await (const line of createInterface({ input: child.all!, crlfDelay: Infinity })) {
        tail.push(line);
        if (tail.length > 12) tail.shift();
        // one line per package per stage is too much to follow; retrieving and configuring tell the story
        if (/^[WE]:|^I: (Retriev|Resolv|Found|Install|Configur|Base system|Checking)/.test(line)) o.onProgress?.(line);
      }
      const done = await child;
      if (aborted) o.signal?.throwIfAborted();
      if (done.exitCode !== 0) {
        await copyFile(join(root, 'debootstrap', 'debootstrap.log'), logCopy).catch(() => undefined);
        throw new FaultlineError('image', `debootstrap of the ${recipe.name} recipe from ${mirror.url} failed (exit ${done.exitCode ?? done.signal}); its last lines:\n${tail.map((l) => `    ${l}`).join('\n')}`, {
          where: recipe.file,
          hint: `Its log is ${logCopy}. Check that the mirror answers (it came from ${mirror.from}; FAULTLINE_DEBIAN_MIRROR or --mirror chooses another) and that the recipe's packages exist in ${recipe.suite}.`,
        });
      }
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      process.removeListener('exit', killGroup);
    }
  } finally {
    await debsLock.release();
  }
}

// What debootstrap leaves that no guest or build needs: the package lists (apt cannot reach a
// mirror from inside anyway) and apt's caches.
async function trimRootfs(root: string): Promise<void> {
  for (const sub of ['var/lib/apt/lists', 'var/cache/apt/archives', 'var/cache/apt']) {
    const dir = join(root, sub);
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isFile() && entry.name !== 'lock') await rm(join(dir, entry.name), { force: true });
    }
  }
}
