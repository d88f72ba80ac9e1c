import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from '../../runner/core/env.js';
import { toolStep } from './tool-step.js';
import { dropTreeManifest, unchangedTreeId, writeTreeManifest } from './tree-manifest.js';
import { stampTime, statWalk } from './tree-walk.js';
import { FaultlineError } from '../../runner/core/errors.js';
import { hashParts } from '../../runner/core/hash.js';
import { cacheDir as defaultCacheDir } from '../../runner/core/paths.js';

export interface TreeIdentity {
  id: string;
  kind: 'git' | 'plain';
}


// The cache key of a build starts from what is in the tree, not where it is: a git tree is named
// by the tree id of its working-tree contents (uncommitted edits included), a plain tree by a
// content hash. Neither touches the user's tree or repository.
export async function treeIdentity(tree: string, opts: { cacheDir?: string } = {}): Promise<TreeIdentity> {
  const root = await checkKernelTree(tree);
  const git = await gitLocation(root);
  if (git) return { id: await gitWorkingTreeId(root, git), kind: 'git' };
  return { id: await plainTreeHash(root, opts.cacheDir ?? defaultCacheDir()), kind: 'plain' };
}

// A path that is not a kernel tree fails before anything is copied or hashed.
export async function checkKernelTree(tree: string): Promise<string> {
  const root = await realpath(tree).catch(() => null);
  const missing: string[] = [];
  if (root) {
    for (const [entry, dir] of [['Makefile', false], ['Kconfig', false], ['arch/x86', true]] as const) {
      const info = await stat(join(root, entry)).catch(() => null);
      if (!info || info.isDirectory() !== dir) missing.push(entry);
    }
  }
  if (!root || missing.length > 0) {
    throw new FaultlineError('kernel', root ? `${tree} is not a kernel source tree (no ${missing.join(', ')})` : `kernel tree ${tree} does not exist`, {
      where: tree,
      hint: 'give the top directory of a Linux source tree (it holds Makefile, Kconfig and arch/x86)',
    });
  }
  return root;
}

interface GitLocation {
  /** The tree's path inside its repository ("" at the top). */
  prefix: string;
  index: string;
  objects: string;
}

async function gitLocation(root: string): Promise<GitLocation | null> {
  const r = await execa('git', ['rev-parse', '--show-prefix', '--path-format=absolute', '--git-path', 'index', '--git-path', 'objects'], {
    cwd: root,
    reject: false,
    env: cLocaleEnv(),
    stdin: 'ignore',
  });
  if (r.exitCode !== 0) return null;
  const [prefix, index, objects] = r.stdout.split('\n');
  if (prefix === undefined || !index || !objects) return null;
  return { prefix, index, objects };
}

// A copy of the index takes `git add -A` (so only changed files are re-hashed, thanks to the
// index's stat data) and the new blobs go to a throw-away object directory that borrows the
// repository's objects as an alternate: the repository's index, HEAD and objects stay as they were.
async function gitWorkingTreeId(root: string, git: GitLocation): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'faultline-tree-'));
  try {
    const index = join(scratch, 'index');
    await copyFile(git.index, index).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // a repository with no index yet starts from an empty one
    });
    const objects = join(scratch, 'objects');
    await mkdir(objects);
    const env = cLocaleEnv({ GIT_INDEX_FILE: index, GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: git.objects });
    const config = ['-c', 'core.splitIndex=false', '-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false', '-c', 'gc.auto=0'];
    const add = await execa('git', [...config, 'add', '-A', '--', '.'], { cwd: root, env, reject: false, stdin: 'ignore' });
    if (add.exitCode !== 0) {
      throw new FaultlineError('kernel', `cannot read the git tree ${root}: ${add.stderr.trim().split('\n').pop() ?? ''}`, { where: root });
    }
    const prefix = git.prefix === '' ? [] : [`--prefix=${git.prefix}`];
    const tree = await execa('git', [...config, 'write-tree', ...prefix], { cwd: root, env, reject: false, stdin: 'ignore' });
    if (tree.exitCode !== 0) {
      throw new FaultlineError('kernel', `cannot compute the tree id of ${root}: ${tree.stderr.trim()}`, { where: root });
    }
    return tree.stdout.trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Where a plain tree's file hashes and manifest are kept (the tree's real path names them). */
export const plainTreeRecords = (root: string, cacheDir: string): string => join(cacheDir, 'kernels', 'source', 'tree-hashes', hashParts([root]));

interface CachedFileHash {
  /** size, mtime, ctime, inode and mode, as statStamp gives them. */
  stat: string;
  hash: string;
}

// Hashing 70k files every run would cost seconds, so each file's hash is remembered by its
// path and stat data; files modified in the last seconds are re-hashed next time (an edit
// within the same mtime tick could otherwise go unnoticed). Before any of that, the manifest of
// the last walk proves an unchanged tree by stat data alone (tree-manifest.ts says why that holds).
async function plainTreeHash(root: string, cacheDir: string): Promise<string> {
  const base = plainTreeRecords(root, cacheDir);
  const cacheFile = `${base}.json`;
  const unchanged = await unchangedTreeId(base, root);
  if (unchanged !== null) return unchanged;
  const started = Date.now() / 1000;
  // taken before any file is read: a file edited while it is hashed differs from it next time
  const walk = await toolStep(`listing the files of ${root}`, root, async () => statWalk(root));
  const previous = await readFile(cacheFile, 'utf8').then(
    (t) => new Map(Object.entries(JSON.parse(t) as Record<string, CachedFileHash>)),
    () => new Map<string, CachedFileHash>(),
  );
  let young = false;
  const entries: Array<[string, string]> = [];
  const next: Record<string, CachedFileHash> = {};
  const pending: Array<() => Promise<void>> = [];
  // what stands for each file in the stat index: its content hash, a symlink's target's
  const objects = new Map<string, Buffer>();
  for (const { type, rel, stat, stats, link } of walk) {
    const recent = stampTime(stats) >= started - 2;
    if (recent) young = true;
    if (type === 'd') continue;
    if (type === 'l') {
      entries.push([rel, `l ${rel}\0${link}`]);
      objects.set(rel, createHash('sha1').update(link).digest());
      continue;
    }
    const kind = stats.mode & 0o111n ? 'x' : 'f';
    const slot = entries.length;
    entries.push([rel, '']);
    const record = (hash: string) => {
      entries[slot]![1] = `${kind} ${rel}\0${hash}`;
      objects.set(rel, Buffer.from(hash, 'hex'));
      if (!recent) next[rel] = { stat, hash };
    };
    const known = previous.get(rel);
    if (known && known.stat === stat) record(known.hash);
    else pending.push(async () => record(createHash('sha1').update(await readFile(join(root, rel))).digest('hex')));
  }
  await runLimited(pending, 8);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const digest = createHash('sha256');
  for (const [, line] of entries) digest.update(line).update('\n');
  await saveJson(cacheFile, next);
  const id = `plain-${digest.digest('hex').slice(0, 40)}`;
  if (young) await dropTreeManifest(base);
  else await writeTreeManifest(base, id, walk, objects);
  return id;
}

async function runLimited(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}

async function saveJson(file: string, value: unknown): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}

// The scratch copy holds exactly what the identity covers: for git, the files `git add -A`
// would see (tracked and untracked, minus ignored build output); for a plain tree, everything.
export async function copyTree(root: string, dest: string, signal?: AbortSignal): Promise<void> {
  await mkdir(dest, { recursive: true });
  const git = await gitLocation(root);
  if (!git) {
    await execa('cp', ['-a', '--reflink=auto', `${root}/.`, dest], { stdin: 'ignore', env: cLocaleEnv(), ...(signal ? { cancelSignal: signal } : {}) });
    return;
  }
  const list = await execa('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    env: cLocaleEnv(),
    stdin: 'ignore',
    stripFinalNewline: false,
    maxBuffer: 1 << 30,
  });
  const names = [...new Set(list.stdout.split('\0').filter((n) => n !== ''))];
  const present = await Promise.all(names.map((n) => lstat(join(root, n)).then((s) => !s.isDirectory(), () => false)));
  const files = names.filter((_, i) => present[i]);
  const options = { env: cLocaleEnv(), ...(signal ? { cancelSignal: signal } : {}) };
  await execa('tar', ['-C', root, '--null', '--no-recursion', '-T', '-', '-cf', '-'], { ...options, input: files.join('\0') + '\0', buffer: false }).pipe(
    'tar',
    ['-C', dest, '-xf', '-'],
    options,
  );
}
