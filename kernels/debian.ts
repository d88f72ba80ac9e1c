import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../runner/core/errors.js';
import { pathExists } from '../runner/core/files.js';
import { globMatch } from '../runner/core/glob.js';
import { cLocaleEnv } from '../runner/core/env.js';
import { hashParts } from '../runner/core/hash.js';
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

const concreteImage = /^linux-image-\d+\.\d+/;

// A meta package (linux-image-cloud-amd64) names a concrete one (linux-image-6.1.0-56-cloud-amd64);
// the cache is keyed by the concrete name, so a meta package is looked up in the apt lists first.
export async function resolveMetaPackage(name: string): Promise<string> {
  if (concreteImage.test(name)) return name;
  const aptCache = await requireTool('apt-cache', 'apt');
  const result = await execa(aptCache, ['depends', name], { reject: false, env: cLocaleEnv() });
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
function byVersion(a: string, b: string): number {
  const parts = (s: string) => s.split(/(\d+)/).map((p, i) => (i % 2 ? Number(p) : p));
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    return typeof x[i] === 'number' && typeof y[i] === 'number' ? (x[i] as number) - (y[i] as number) : String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

// Downloads and unpacks a kernel package once; later calls find it through the index.
export async function fetchDebianKernel(name: string, options: { cacheDir: string }): Promise<DebianKernel> {
  const root = join(options.cacheDir, 'kernels', 'debian');
  const known = (await readIndex(root))[name];
  if (known) {
    const found = await loadContentDir(root, known, name);
    if (found) return { ...found, cached: true };
  }
  const work = await mkdtemp(join(tmpdir(), 'faultline-deb-'));
  try {
    // apt downloads as the unprivileged _apt user when it can; let it write here.
    await chmod(work, 0o777);
    const stored = await storePackage(await download(name, work), name, `debian:${name}`, root);
    await writeIndex(root, { ...(await readIndex(root)), [name]: stored.key });
    return stored.kernel;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// A .deb on disk (`--kernel ./linux-image-....deb`): unpacked once per content, like a download.
export async function loadDebianPackageFile(path: string, options: { cacheDir: string }): Promise<DebianKernel> {
  return (await storePackage(path, basename(path), path, join(options.cacheDir, 'kernels', 'debian'))).kernel;
}

async function storePackage(deb: string, name: string, where: string, root: string): Promise<{ key: string; kernel: DebianKernel }> {
  const key = hashParts([await readFile(deb)]);
  const found = await loadContentDir(root, key, name);
  if (found) return { key, kernel: { ...found, cached: true } };
  const work = await mkdtemp(join(tmpdir(), 'faultline-deb-'));
  try {
    const unpacked = join(work, 'x');
    const dpkg = await requireTool('dpkg-deb', 'dpkg');
    const x = await execa(dpkg, ['-x', deb, unpacked], { reject: false, env: cLocaleEnv() });
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
    await rm(work, { recursive: true, force: true });
  }
}

async function download(name: string, dir: string): Promise<string> {
  const aptGet = await requireTool('apt-get', 'apt');
  const result = await execa(aptGet, ['download', name], { cwd: dir, reject: false, env: cLocaleEnv() });
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
