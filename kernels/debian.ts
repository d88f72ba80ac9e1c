import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../runner/core/errors.js';
import { pathExists } from '../runner/core/files.js';
import { globMatch } from '../runner/core/glob.js';
import { cLocaleEnv } from '../runner/core/env.js';
import { hashParts } from '../runner/core/hash.js';
import { runInOwnGroup } from '../runner/core/process-group.js';
import { makeTempDir } from '../runner/core/temp-dirs.js';
import { requireTool } from '../runner/core/tools.js';

/** What a fetched Debian kernel package left in the cache. */
export interface DebianKernel {
  package: string;
  /** Content directory holding `vmlinuz` and `config`, named by the hash of the .deb. */
  dir: string;
  image: string;
  configPath: string | null;
  /** From the file name boot/vmlinuz-<release>. */
  release: string;
  cached: boolean;
}

/** What fetching a package is doing, for the kernel stage's progress. */
export interface DebianProgress {
  step: 'download' | 'unpack';
  detail: string;
}

/** Downloads and unpacks stop when this aborts (Ctrl-C, --timeout), killing apt-get or dpkg-deb. */
export interface FetchOptions {
  cacheDir: string;
  signal?: AbortSignal;
  onProgress?: (progress: DebianProgress) => void;
}

// A concrete image names its ABI (6.1.0-56, 6.12.118+deb12); linux-image-6.12-amd64 is a meta package.
const concreteImage = /^linux-image-\d+\.\d+\.\d+/;

// A meta package (linux-image-cloud-amd64) names a concrete one (linux-image-6.1.0-56-cloud-amd64);
// the cache is keyed by the concrete name, so a meta package is looked up in the apt lists first.
export async function resolveMetaPackage(name: string, signal?: AbortSignal): Promise<string> {
  if (concreteImage.test(name)) return name;
  const aptCache = await requireTool('apt-cache', 'apt');
  const result = await execa(aptCache, ['depends', name], { reject: false, env: cLocaleEnv(), ...(signal ? { cancelSignal: signal } : {}) });
  signal?.throwIfAborted();
  const target = /^\s*Depends:\s*(linux-image-\d\S*)\s*$/m.exec(result.stdout)?.[1];
  if (result.exitCode === 0 && target) return target;
  if (result.exitCode === 0 && /^\S/m.test(result.stdout)) return name; // a real package that is not a meta package
  throw new FaultlineError('kernel', `package ${name} is not in the apt package lists`, {
    where: `debian:${name}`,
    hint: (await hasAptLists()) ? 'check the name with apt-cache search linux-image' : 'run apt-get update (the apt package lists are missing)',
    cause: result.stderr,
  });
}

// `debian:linux-image-6.1.0-*-cloud-amd64`: every package the apt lists hold whose name matches
// (`*` any run of characters, `?` one), oldest first by the numbers in their names.
export async function matchingPackages(glob: string): Promise<string[]> {
  const aptCache = await requireTool('apt-cache', 'apt');
  const prefix = glob.slice(0, glob.search(/[*?]/));
  const result = await execa(aptCache, ['pkgnames', prefix], { reject: false, env: cLocaleEnv() });
  const names = result.stdout.split('\n').filter((n) => n !== '' && globMatch(glob, n));
  if (names.length === 0) {
    throw new FaultlineError('kernel', `no package in the apt lists matches ${glob}`, {
      where: `debian:${glob}`,
      hint: (await hasAptLists()) ? `see what there is with: apt-cache pkgnames ${prefix}` : 'run apt-get update (the apt package lists are missing)',
    });
  }
  return names.sort(byVersion);
}

/** linux-image-6.1.0-9-... before linux-image-6.1.0-10-...: numbers compare as numbers. */
export function byVersion(a: string, b: string): number {
  const parts = (s: string) => s.split(/(\d+)/).map((p, i) => (i % 2 ? Number(p) : p));
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    return typeof x[i] === 'number' && typeof y[i] === 'number' ? (x[i] as number) - (y[i] as number) : String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

// Downloads and unpacks a kernel package once; later calls find it through the index.
export async function fetchDebianKernel(name: string, options: FetchOptions): Promise<DebianKernel> {
  const root = join(options.cacheDir, 'kernels', 'debian');
  const found = await cachedPackage(root, name);
  if (found) return { ...found, cached: true };
  if (name.endsWith('-dbg')) {
    throw new FaultlineError('kernel', `package ${name} holds debug symbols, not a kernel`, { where: `debian:${name}`, hint: `name the kernel itself: debian:${name.slice(0, -'-dbg'.length)}` });
  }
  const work = await makeTempDir('faultline-deb');
  try {
    // apt downloads as the unprivileged _apt user when it can; let it write here.
    await chmod(work, 0o777);
    options.onProgress?.({ step: 'download', detail: name });
    const deb = await download(name, work, options.signal);
    const stored = await storePackage(deb, name, `debian:${name}`, root, options);
    await writeIndex(root, { ...(await readIndex(root)), [name]: stored.key });
    return stored.kernel;
  } finally {
    await removeWork(work);
  }
}

// A .deb on disk (`--kernel ./linux-image-....deb`): unpacked once per content, like a download.
export async function loadDebianPackageFile(path: string, options: FetchOptions): Promise<DebianKernel> {
  return (await storePackage(path, basename(path), path, join(options.cacheDir, 'kernels', 'debian'), options)).kernel;
}

/** Whether a package is in the cache already, so fetching it downloads nothing. */
export async function isPackageCached(name: string, cacheDir: string): Promise<boolean> {
  return (await cachedPackage(join(cacheDir, 'kernels', 'debian'), name)) !== null;
}

async function cachedPackage(root: string, name: string): Promise<Omit<DebianKernel, 'cached'> | null> {
  const known = (await readIndex(root))[name];
  return known ? loadContentDir(root, known, name) : null;
}

async function storePackage(deb: string, name: string, where: string, root: string, options: Omit<FetchOptions, 'cacheDir'>): Promise<{ key: string; kernel: DebianKernel }> {
  const key = hashParts([await readFile(deb)]);
  options.signal?.throwIfAborted();
  const found = await loadContentDir(root, key, name);
  if (found) return { key, kernel: { ...found, cached: true } };
  const work = await makeTempDir('faultline-deb');
  try {
    const unpacked = join(work, 'x');
    const dpkg = await requireTool('dpkg-deb', 'dpkg');
    options.onProgress?.({ step: 'unpack', detail: basename(deb) });
    const x = await runInOwnGroup(dpkg, ['-x', deb, unpacked], options.signal ? { signal: options.signal } : {});
    options.signal?.throwIfAborted();
    if (x.exitCode !== 0) {
      throw new FaultlineError('kernel', `${where} is not a readable Debian package: ${firstError(x.stderr) ?? `dpkg-deb exit ${x.exitCode}`}`, {
        where,
        hint: 'the file is probably truncated or corrupt: download it again (apt-get download linux-image-<release>)',
        cause: x.stderr,
      });
    }
    const boot = join(unpacked, 'boot');
    const files = await readdir(boot).catch(() => [] as string[]);
    const vmlinuz = files.find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) {
      throw new FaultlineError('kernel', `package ${name} holds no boot/vmlinuz-*`, {
        where,
        hint: 'name a linux-image-* package, e.g. debian:linux-image-cloud-amd64',
      });
    }
    const release = vmlinuz.slice('vmlinuz-'.length);
    const config = files.find((f) => f === `config-${release}`);
    const staging = join(root, `.staging-${process.pid}-${key}`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await copyFile(join(boot, vmlinuz), join(staging, 'vmlinuz'));
    if (config) await copyFile(join(boot, config), join(staging, 'config'));
    await writeFile(join(staging, 'package.json'), JSON.stringify({ package: name, release, deb: basename(deb) }, null, 2) + '\n');
    const dir = join(root, key);
    try {
      await rename(staging, dir);
    } catch {
      // another run stored the same content first; theirs is identical
      await rm(staging, { recursive: true, force: true });
    }
    const loaded = await loadContentDir(root, key, name);
    if (!loaded) throw new FaultlineError('io', `kernel cache directory ${dir} is incomplete`, { hint: `remove ${dir} and retry` });
    return { key, kernel: { ...loaded, cached: false } };
  } finally {
    await removeWork(work);
  }
}

async function download(name: string, dir: string, signal: AbortSignal | undefined): Promise<string> {
  const aptGet = await requireTool('apt-get', 'apt');
  const result = await runInOwnGroup(aptGet, ['download', name], { cwd: dir, ...(signal ? { signal } : {}) });
  signal?.throwIfAborted();
  const deb = (await readdir(dir)).find((f) => f.endsWith('.deb'));
  if (result.exitCode === 0 && deb) return join(dir, deb);
  const notFound = /Unable to locate package|has no installation candidate|No packages found/.test(result.stderr);
  const hint = !(await hasAptLists())
    ? 'run apt-get update (the apt package lists are missing)'
    : notFound
      ? 'check the name with apt-cache search linux-image, or run apt-get update'
      : 'check that the Debian archive is reachable';
  throw new FaultlineError('kernel', `apt-get download ${name} failed: ${firstError(result.stderr) ?? `exit ${result.exitCode}`}`, {
    where: `debian:${name}`,
    hint,
    cause: result.stderr,
  });
}

// A stop kills the tool that was writing here; what it started may take a moment more to die.
const removeWork = (dir: string) => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });

async function loadContentDir(root: string, key: string, name: string): Promise<Omit<DebianKernel, 'cached'> | null> {
  const dir = join(root, key);
  try {
    const meta = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { release?: unknown };
    await stat(join(dir, 'vmlinuz'));
    const hasConfig = await pathExists(join(dir, 'config'));
    if (typeof meta.release !== 'string') return null;
    return { package: name, dir, image: join(dir, 'vmlinuz'), configPath: hasConfig ? join(dir, 'config') : null, release: meta.release };
  } catch {
    return null;
  }
}

async function readIndex(root: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

async function writeIndex(root: string, index: Record<string, string>): Promise<void> {
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.index-${process.pid}.json`);
  await writeFile(tmp, JSON.stringify(index, null, 2) + '\n');
  await rename(tmp, join(root, 'index.json'));
}

async function hasAptLists(): Promise<boolean> {
  const files = await readdir('/var/lib/apt/lists').catch(() => [] as string[]);
  return files.some((f) => f.includes('_Packages'));
}

/** apt's first "E:" line is the cause; later ones restate it. */
function firstError(text: string): string | undefined {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '');
  return lines.find((l) => l.startsWith('E:')) ?? lines.pop();
}
