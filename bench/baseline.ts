// What both benchmarks share: the hand-written baseline guest and the timing arithmetic.
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Accel } from '../runner/model/types.js';
import { defaultCpu } from '../runner/qemu/argv.js';
import { chooseAccel } from '../runner/qemu/accel.js';
import { cacheDir } from '../runner/core/paths.js';
import { hostTscKhz } from '../runner/qemu/host-tsc.js';

/** What a person would write by hand: busybox, the helper, the plan, a five-line init. */
export async function handWrittenInitrd(work: string, helperPath: string, plan: string): Promise<string> {
  const root = join(work, 'root');
  for (const dir of ['bin', 'proc', 'dev']) mkdirSync(join(root, dir), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  copyFileSync(helperPath, join(root, 'helper'));
  writeFileSync(join(root, 'plan'), plan);
  writeFileSync(join(root, 'init'), '#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox mount -t devtmpfs dev /dev\n/helper run /plan\n/bin/busybox reboot -f\n');
  chmodSync(join(root, 'init'), 0o755);
  const out = join(work, 'raw.cpio.gz');
  await execa('sh', ['-c', `find . | cpio -o -H newc --quiet | gzip -1 > ${out}`], { cwd: root });
  return out;
}

/** The accelerator `faultline run` picks on this host, so both sides of a ratio boot alike. */
export async function runAccel(image: string): Promise<Accel> {
  return (await chooseAccel('auto', image, cacheDir())).accel;
}

/** A raw boot of `image` with that initrd, as one would type it; fails unless the case ran. */
export async function rawBoot(image: string, initrd: string, accel: Accel): Promise<void> {
  const boot = await execa('qemu-system-x86_64', ['-M', 'pc', '-accel', accel, '-cpu', defaultCpu(accel), '-m', '512', '-nodefaults', '-display', 'none', '-no-reboot',
    '-kernel', image, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1', '-serial', 'stdio'], { timeout: 120_000 });
  if (!/^ {4}ok 1 - open-uffd/m.test(boot.stdout)) throw new Error('raw boot did not run the case');
}

export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A markdown table row: name, median and range in seconds. */
export const row = (name: string, xs: readonly number[]): string =>
  `| ${name} | ${(median(xs) / 1000).toFixed(2)} s | ${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)} s |`;

// The microvm floor (issue 19): the same kernel on `-M microvm` to an init that only reboots,
// as one would type it, with the kernel words a reliable microvm boot needs under TCG.

/** A busybox initramfs whose init only reboots: the least a boot can do. */
export async function rebootOnlyInitrd(work: string): Promise<string> {
  const root = join(work, 'reboot-root');
  for (const dir of ['bin', 'proc', 'dev']) mkdirSync(join(root, dir), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  writeFileSync(join(root, 'init'), '#!/bin/busybox sh\n/bin/busybox echo booted\n/bin/busybox reboot -f\n');
  chmodSync(join(root, 'init'), 0o755);
  const out = join(work, 'reboot.cpio.gz');
  await execa('sh', ['-c', `find . | cpio -o -H newc --quiet | gzip -1 > ${out}`], { cwd: root });
  return out;
}

/** A raw `-M microvm` boot of `image` with `initrd`; under TCG it needs the host's TSC rate. */
export async function rawMicrovmBoot(image: string, initrd: string, accel: Accel, tscKhz: number | null): Promise<void> {
  const words = ['console=ttyS0', 'panic=-1', 'reboot=t', ...(accel === 'tcg' && tscKhz ? [`tsc_early_khz=${tscKhz}`] : [])];
  const boot = await execa('qemu-system-x86_64', ['-M', 'microvm', '-accel', accel, '-cpu', defaultCpu(accel), '-m', '512', '-nodefaults', '-display', 'none', '-no-reboot',
    '-kernel', image, '-initrd', initrd, '-append', words.join(' '), '-serial', 'stdio'], { timeout: 120_000 });
  if (!/^booted/m.test(boot.stdout)) throw new Error('raw microvm boot did not reach its init');
}

/** The floor as a timed step: the initramfs and the host's TSC rate are got once, up front. */
export async function microvmFloor(work: string, image: string, accel: Accel): Promise<() => Promise<void>> {
  const initrd = await rebootOnlyInitrd(work);
  const tscKhz = accel === 'tcg' ? await hostTscKhz(cacheDir()) : null;
  return () => rawMicrovmBoot(image, initrd, accel, tscKhz);
}
