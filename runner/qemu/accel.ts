import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import type { Accel } from '../model/types.js';
import { hashParts } from '../core/hash.js';
import { requireTool } from '../core/tools.js';
import { bootGuest } from './boot.js';
import { defaultGuestConfig, type AccelMode } from './guest-config.js';
import { qemuVersion } from './version.js';

/** `--accel`: auto proves KVM with a probe boot; kvm and tcg are taken as given. */

export interface AccelChoice {
  accel: Accel;
  /** One sentence saying why, shown in the run's output. */
  reason: string;
  /** How long the probe boot took; 0 when none ran (forced mode or cached verdict). */
  probeMs: number;
  cached: boolean;
}

/** What the choice looks at: the KVM device, and the QEMU that probes it. Tests point both
 * elsewhere, so every kind of host is exercised on whichever host runs them. */
export interface AccelHost {
  device: string;
  /** The QEMU binary; by default qemu-system-x86_64 from PATH. */
  qemu?: string;
}

export const defaultAccelHost: AccelHost = { device: '/dev/kvm' };

/** A working KVM prints the kernel banner well within this; a broken one prints nothing, ever. */
export const PROBE_TIMEOUT_MS = 4000;
const banner = /Linux version \d/;

// A /dev/kvm that exists can still hang forever (nested paravirtual KVM), so auto mode boots the
// kernel under KVM briefly and only trusts it if the kernel's banner reaches the console.
export async function chooseAccel(mode: AccelMode, kernelImage: string, cacheDir: string, host: AccelHost = defaultAccelHost, signal?: AbortSignal): Promise<AccelChoice> {
  if (mode === 'tcg') return { accel: 'tcg', reason: 'TCG requested', probeMs: 0, cached: false };
  const kvmProblem = await kvmDeviceProblem(host.device);
  if (mode === 'kvm') {
    if (kvmProblem) throw new FaultlineError('usage', `--accel kvm: ${kvmProblem}`, { hint: 'use --accel auto or --accel tcg' });
    return { accel: 'kvm', reason: 'KVM requested', probeMs: 0, cached: false };
  }
  if (kvmProblem) return { accel: 'tcg', reason: `${kvmProblem}; using TCG`, probeMs: 0, cached: false };
  const cacheFile = join(cacheDir, 'accel', `${await hostKey(host)}.json`);
  const known = await readVerdict(cacheFile);
  if (known) return { ...known, cached: true };
  const verdict = await probeKvm(kernelImage, { ...(host.qemu ? { qemu: host.qemu } : {}), ...(signal ? { signal } : {}) });
  await writeVerdict(cacheFile, verdict);
  return { ...verdict, cached: false };
}

// The probe: KVM, no initrd, console only; stop as soon as the kernel's banner shows.
// A stop (Ctrl-C) ends the probe and throws its reason: a probe cut short proves nothing, so no
// verdict is kept.
export async function probeKvm(kernelImage: string, opts: { timeoutMs?: number; qemu?: string; signal?: AbortSignal } = {}): Promise<Omit<AccelChoice, 'cached'>> {
  const timeoutMs = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  const stop = new AbortController();
  opts.signal?.throwIfAborted();
  let sawBanner = false;
  const started = performance.now();
  try {
    const boot = await bootGuest({
      kernel: kernelImage,
      initrd: null,
      accel: 'kvm',
      guest: { ...defaultGuestConfig, baseMemoryMiB: 256, append: [] },
      timeoutMs,
      resultChannel: false,
      signal: opts.signal ? AbortSignal.any([stop.signal, opts.signal]) : stop.signal,
      ...(opts.qemu ? { qemu: opts.qemu } : {}),
      onConsoleLine: (line) => {
        if (!sawBanner && banner.test(line)) {
          sawBanner = true;
          stop.abort();
        }
      },
    });
    opts.signal?.throwIfAborted();
    const probeMs = Math.round(performance.now() - started);
    if (sawBanner) return { accel: 'kvm', reason: `KVM probe printed the kernel banner in ${probeMs} ms`, probeMs };
    const why = boot.timedOut
      ? `KVM probe showed no kernel output within ${timeoutMs} ms`
      : `KVM probe ended (${boot.signal ? `QEMU killed by ${boot.signal}` : `QEMU exit ${boot.exitCode}`}) without the kernel banner`;
    return { accel: 'tcg', reason: `${why}; using TCG`, probeMs };
  } catch (error) {
    opts.signal?.throwIfAborted();
    const probeMs = Math.round(performance.now() - started);
    if (!(error instanceof FaultlineError) || error.kind !== 'boot') throw error;
    return { accel: 'tcg', reason: `KVM probe failed: ${error.message}; using TCG`, probeMs };
  }
}

// Opening the device read-write is what QEMU does first; it checks the effective user, groups
// and ACLs exactly as QEMU will meet them, where access(2) would ask about the real user.
export async function kvmDeviceProblem(device: string = defaultAccelHost.device): Promise<string | null> {
  try {
    await (await open(device, 'r+')).close();
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${device} does not exist`;
    if (code === 'EACCES' || code === 'EPERM') return `${device} is not accessible to this user`;
    return `${device} cannot be opened (${code ?? String(error)})`;
  }
}

const hosts = new Map<string, Promise<string>>();

// The verdict holds until the host reboots or QEMU changes; asked once per process, not per kernel.
function hostKey(host: AccelHost): Promise<string> {
  const id = `${host.device}\0${host.qemu ?? ''}`;
  let key = hosts.get(id);
  if (!key) {
    key = (async () => {
      const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
      const qemu = host.qemu ?? (await requireTool('qemu-system-x86_64', 'qemu-system-x86'));
      return hashParts([bootId, host.device, host.qemu ?? '', (await qemuVersion(qemu)) ?? '']);
    })();
    hosts.set(id, key);
  }
  return key;
}

async function readVerdict(file: string): Promise<Omit<AccelChoice, 'cached'> | null> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as Partial<AccelChoice>;
    if ((v.accel === 'kvm' || v.accel === 'tcg') && typeof v.reason === 'string' && typeof v.probeMs === 'number') {
      return { accel: v.accel, reason: `${v.reason} (probe cached for this host boot)`, probeMs: v.probeMs };
    }
  } catch {
    // no verdict yet
  }
  return null;
}

async function writeVerdict(file: string, verdict: Omit<AccelChoice, 'cached'>): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(`${file}.${process.pid}.tmp`, JSON.stringify(verdict) + '\n');
    await rename(`${file}.${process.pid}.tmp`, file);
  } catch {
    // an unwritable cache only costs the next run another probe
  }
}
