import { access, constants, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../errors.js';
import type { Accel } from '../events.js';
import { hashParts } from '../hash.js';
import { requireTool } from '../tools.js';
import { bootGuest } from './boot.js';

/** `--accel`: auto proves KVM with a probe boot; kvm and tcg are taken as given. */
export type AccelMode = 'auto' | 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** One sentence saying why, shown in the run's output. */
  reason: string;
  /** How long the probe boot took; 0 when none ran (forced mode or cached verdict). */
  probeMs: number;
  cached: boolean;
}

/** A working KVM prints the kernel banner well within this; a broken one prints nothing, ever. */
export const PROBE_TIMEOUT_MS = 4000;
const banner = /Linux version \d/;

// A /dev/kvm that exists can still hang forever (nested paravirtual KVM), so auto mode boots the
// kernel under KVM briefly and only trusts it if the kernel's banner reaches the console.
export async function chooseAccel(mode: AccelMode, kernelImage: string, cacheDir: string): Promise<AccelChoice> {
  if (mode === 'tcg') return { accel: 'tcg', reason: 'TCG requested', probeMs: 0, cached: false };
  const kvmProblem = await kvmDeviceProblem();
  if (mode === 'kvm') {
    if (kvmProblem) throw new FaultlineError('usage', `--accel kvm: ${kvmProblem}`, { hint: 'use --accel auto or --accel tcg' });
    return { accel: 'kvm', reason: 'KVM requested', probeMs: 0, cached: false };
  }
  if (kvmProblem) return { accel: 'tcg', reason: `${kvmProblem}; using TCG`, probeMs: 0, cached: false };
  const cacheFile = join(cacheDir, 'accel', `${await hostKey()}.json`);
  const known = await readVerdict(cacheFile);
  if (known) return { ...known, cached: true };
  const verdict = await probeKvm(kernelImage);
  await writeVerdict(cacheFile, verdict);
  return { ...verdict, cached: false };
}

// The probe: KVM, no initrd, console only; stop as soon as the kernel's banner shows.
export async function probeKvm(kernelImage: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<Omit<AccelChoice, 'cached'>> {
  const stop = new AbortController();
  let sawBanner = false;
  const started = performance.now();
  try {
    const boot = await bootGuest({
      kernel: kernelImage,
      initrd: null,
      accel: 'kvm',
      memoryMiB: 256,
      smp: 1,
      timeoutMs,
      resultChannel: false,
      signal: stop.signal,
      onConsoleLine: (line) => {
        if (!sawBanner && banner.test(line)) {
          sawBanner = true;
          stop.abort();
        }
      },
    });
    const probeMs = Math.round(performance.now() - started);
    if (sawBanner) return { accel: 'kvm', reason: `KVM probe printed the kernel banner in ${probeMs} ms`, probeMs };
    const why = boot.timedOut
      ? `KVM probe showed no kernel output within ${timeoutMs} ms`
      : `KVM probe ended (${boot.signal ? `QEMU killed by ${boot.signal}` : `QEMU exit ${boot.exitCode}`}) without the kernel banner`;
    return { accel: 'tcg', reason: `${why}; using TCG`, probeMs };
  } catch (error) {
    const probeMs = Math.round(performance.now() - started);
    if (!(error instanceof FaultlineError) || error.kind !== 'boot') throw error;
    return { accel: 'tcg', reason: `KVM probe failed: ${error.message}; using TCG`, probeMs };
  }
}

async function kvmDeviceProblem(): Promise<string | null> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? '/dev/kvm does not exist' : '/dev/kvm is not accessible';
  }
}

let host: Promise<string> | undefined;

// The verdict holds until the host reboots or QEMU changes; asked once per process, not per kernel.
function hostKey(): Promise<string> {
  host ??= (async () => {
    const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
    const qemu = await requireTool('qemu-system-x86_64', 'qemu-system-x86');
    const version = await execa(qemu, ['--version'], { reject: false });
    return hashParts([bootId, version.stdout.split('\n')[0] ?? '']);
  })();
  return host;
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
