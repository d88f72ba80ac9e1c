import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, writeFile } from 'node:fs/promises';
import { isFile } from '../runner/core/files.js';
import { join } from 'node:path';
import { FaultlineError } from '../runner/core/errors.js';
import { hashParts } from '../runner/core/hash.js';
import { projectRoot } from '../runner/core/paths.js';
import { requireTool } from '../runner/core/tools.js';
import { gzipCpio, writeCpio, type CpioEntry } from './cpio.js';
import { isStaticElf } from './elf.js';

/** Where the guest finds its inputs; the plan comes in a second, per-run archive segment. */
export const GUEST_HELPER_PATH = '/faultline/helper';
export const GUEST_PLAN_PATH = '/faultline/plan';

/** Busybox applets the agent and a person debugging a console log may use. */
export const BUSYBOX_APPLETS = [
  'sh', 'mount', 'umount', 'mkdir', 'cat', 'echo', 'stty', 'sync', 'reboot', 'poweroff',
  'sleep', 'ls', 'dmesg', 'uname', 'grep', 'ps', 'free', 'mknod', 'test', '[', 'mkswap', 'swapon',
] as const;

/** Bump when the layout changes so old cached images are not reused. */
const IMAGE_FORMAT = 'faultline-base-1';

export interface BaseImage {
  path: string;
  hash: string;
  cached: boolean;
}

// The base image (busybox + helper + agent) is built once per content hash and reused across
// runs; only the small plan segment changes when suites change.
export async function buildBaseImage(options: { helperPath: string; cacheDir: string; signal?: AbortSignal }): Promise<BaseImage> {
  const busyboxPath = await realpath(await requireTool('busybox', 'busybox-static'));
  const busybox = await readStaticBinary(busyboxPath, 'busybox', 'apt-get install busybox-static (the dynamic busybox cannot run in the guest)');
  const helper = await readStaticBinary(options.helperPath, 'the helper', 'link the helper with gcc -static');
  const agent = await readFile(guestAgentPath());
  const hash = hashParts([IMAGE_FORMAT, BUSYBOX_APPLETS.join(' '), busybox, helper, agent]);
  const entries: CpioEntry[] = [
    ...faultlineEntries(helper, agent),
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    ...BUSYBOX_APPLETS.map((applet): CpioEntry => ({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' })),
  ];
  return cachedImage(options, `base-${hash}`, hash, entries);
}

/** Bump when faultline's layer over an engine image changes. */
const LAYER_FORMAT = 'faultline-layer-1';

// What faultline puts over an engine image's filesystem (a segment after it, so its /init and
// /dev/console win): the agent, the helper and the directories the agent mounts on.
export async function buildGuestLayer(options: { helperPath: string; cacheDir: string; signal?: AbortSignal }): Promise<BaseImage> {
  const helper = await readStaticBinary(options.helperPath, 'the helper', 'link the helper with gcc -static');
  const agent = await readFile(guestAgentPath());
  const hash = hashParts([LAYER_FORMAT, helper, agent]);
  return cachedImage(options, `layer-${hash}`, hash, faultlineEntries(helper, agent));
}

function faultlineEntries(helper: Buffer, agent: Buffer): CpioEntry[] {
  return [
    { type: 'dir', path: 'dev' },
    { type: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'faultline' },
    { type: 'file', path: GUEST_HELPER_PATH.slice(1), mode: 0o755, data: helper },
    { type: 'file', path: 'init', mode: 0o755, data: agent },
  ];
}

async function cachedImage(options: { cacheDir: string; signal?: AbortSignal }, name: string, hash: string, entries: CpioEntry[]): Promise<BaseImage> {
  const dir = join(options.cacheDir, 'images');
  const path = join(dir, `${name}.cpio.gz`);
  if (await isFile(path)) return { path, hash, cached: true };
  options.signal?.throwIfAborted();
  const image = gzipCpio(writeCpio(entries));
  // Compressing takes a few hundred milliseconds in which a stop cannot be heard; heard now.
  options.signal?.throwIfAborted();
  try {
    await mkdir(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, image);
    await rename(tmp, path);
  } catch (cause) {
    throw new FaultlineError('io', `cannot write the guest image ${path}`, { cause, hint: 'check that the cache directory is writable (FAULTLINE_CACHE)' });
  }
  return { path, hash, cached: false };
}

// A second gzip'd cpio segment holding only the plan; the kernel unpacks concatenated segments
// in order, so `base + plan` is the guest's root without rebuilding the base.
export function planArchive(planText: string): Buffer {
  return gzipCpio(writeCpio([{ type: 'file', path: GUEST_PLAN_PATH.slice(1), mode: 0o644, data: Buffer.from(planText) }]));
}

/** Where the guest finds the kernel's selftest programs. */
export const GUEST_PROGRAMS_DIR = '/faultline/kselftest';

// The selftest programs as one more segment, in GUEST_PROGRAMS_DIR; read once per directory (a
// kernel's reruns and restarts pack the same programs).
export function programsArchive(dir: string): Promise<Buffer> {
  let packed = programArchives.get(dir);
  if (!packed) {
    packed = (async () => {
      const names = (await readdir(dir)).sort();
      const files = await Promise.all(names.map(async (name): Promise<CpioEntry> => ({ type: 'file', path: `${GUEST_PROGRAMS_DIR.slice(1)}/${name}`, mode: 0o755, data: await readFile(join(dir, name)) })));
      return gzipCpio(writeCpio([{ type: 'dir', path: GUEST_PROGRAMS_DIR.slice(1) }, ...files]));
    })();
    programArchives.set(dir, packed);
  }
  return packed;
}

const programArchives = new Map<string, Promise<Buffer>>();

// The agent script ships as a source file, found from the sources (tests) and from dist/ alike.
export function guestAgentPath(): string {
  const path = join(projectRoot, 'images', 'guest', 'init');
  if (!existsSync(path)) throw new FaultlineError('image', 'the guest agent images/guest/init is missing', { where: path });
  return path;
}

async function readStaticBinary(path: string, what: string, hint: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new FaultlineError('image', `cannot read ${what} at ${path}`, { where: path, cause });
  }
  if (!isStaticElf(bytes)) throw new FaultlineError('image', `${what} at ${path} is not a static x86-64 ELF executable`, { where: path, hint });
  return bytes;
}
