import type { Accel } from '../model/types.js';
import type { GuestMachine, Machine } from './guest-config.js';


/** Where the guest's second serial port (ttyS1, the TAP result channel) goes on the host. */
export type ResultChannel = { kind: 'socket'; path: string } | { kind: 'file'; path: string };

export interface QemuOptions {
  kernel: string;
  initrd: string | null;
  accel: Accel;
  /** The run's guest: machine, vCPUs, memory, loglevel, extra command-line words. */
  guest: GuestMachine;
  /** null: no result port (the acceleration probe needs only the console). */
  result: ResultChannel | null;
  /** 2 MiB pages the agent reserves through faultline.hugepages=N; 0 for none. */
  hugepages: number;
  /** A raw disk image the agent turns into swap (NVMe: the Debian cloud kernel has it built in). */
  swapDisk?: string;
  /** The agent sets kernel.hung_task_timeout_secs to this (faultline.hung_task_secs=N). */
  hungTaskSecs?: number;
  /** CPU model; by default `max` under TCG and `qemu64` under KVM. */
  cpu?: string;
  /** The host's TSC rate (host-tsc.ts), which a TCG guest's TSC runs at; microvm under TCG
   * needs it. */
  tscKhz?: number | null;
  /** The kernel is known to have ACPI (CONFIG_ACPI=y): on microvm it then finds PCIe, and so
   * the NVMe swap disk. */
  kernelAcpi?: boolean;
}

// auto: microvm wherever it boots reliably. Under TCG that needs the host's TSC rate: microvm
// has no HPET or ACPI PM timer, so a kernel whose PIT calibration is spoiled by host jitter
// ("tsc: Unable to calibrate against PIT") marks the TSC unstable, and as microvm's ACPI is
// hardware-reduced it also set up no PIT tick: calibrate_delay() then waits forever for a jiffy.
// The swap disk is NVMe, which needs PCI: microvm's PCIe (pcie=on) is found only through ACPI,
// which tinyconfig kernels lack, so a kernel not known to have ACPI gets its swap disk on pc.
export function guestMachine(opts: Pick<QemuOptions, 'guest' | 'accel' | 'swapDisk' | 'tscKhz' | 'kernelAcpi'>): Machine {
  if (opts.guest.machine !== 'auto') return opts.guest.machine;
  if (opts.swapDisk && !opts.kernelAcpi) return 'pc';
  if (opts.accel === 'tcg' && !opts.tscKhz) return 'pc';
  return 'microvm';
}

// Huge pages come out of guest RAM, so the guest grows with the reservation.
export function memoryMiB(guest: Pick<GuestMachine, 'baseMemoryMiB'>, hugepages: number): number {
  return guest.baseMemoryMiB + 2 * Math.max(0, hugepages);
}

// `-cpu host` (and `max`, which means host under KVM) aborts on some nested KVM hosts with
// "failed to set MSR 0x10a"; qemu64 runs everywhere KVM does.
export function defaultCpu(accel: Accel): string {
  return accel === 'kvm' ? 'qemu64' : 'max';
}

// The guest's kernel command line: serial console, no reboot loop on panic, no_timer_check (a
// kernel without ACPI checks that the PIT ticks through the IO-APIC within a few busy-waited
// jiffies; a TCG guest the host preempted missed them and panicked with "IO-APIC + timer doesn't
// work!"), and on microvm reboot=t (without it the guest can print "machine restart" and QEMU
// never exits) and, under TCG, the TSC rate, so that the kernel never calibrates it against
// microvm's missing timers.
export function kernelCommandLine(opts: Pick<QemuOptions, 'guest' | 'accel' | 'hugepages' | 'swapDisk' | 'hungTaskSecs' | 'tscKhz' | 'kernelAcpi'>): string {
  const words = ['console=ttyS0', `loglevel=${opts.guest.loglevel}`, 'panic=-1', 'no_timer_check'];
  if (guestMachine(opts) === 'microvm') {
    words.push('reboot=t');
    if (opts.accel === 'tcg' && opts.tscKhz) words.push(`tsc_early_khz=${opts.tscKhz}`);
  }
  if (opts.hugepages > 0) words.push(`faultline.hugepages=${opts.hugepages}`);
  if (opts.swapDisk) words.push('faultline.swap=/dev/nvme0n1');
  if (opts.hungTaskSecs) words.push(`faultline.hung_task_secs=${opts.hungTaskSecs}`);
  words.push(...opts.guest.append);
  return words.join(' ');
}

// QEMU's arguments as an array (never a shell string): console on stdout, results on their own
// serial port, no network, no display, and -no-reboot so the guest's reboot ends QEMU.
export function qemuArgv(opts: QemuOptions): string[] {
  const machine = guestMachine(opts);
  const argv = ['-M', machine === 'microvm' && opts.swapDisk ? 'microvm,pcie=on' : machine, '-accel', opts.accel, '-cpu', opts.cpu ?? defaultCpu(opts.accel)];
  argv.push('-m', String(memoryMiB(opts.guest, opts.hugepages)), '-smp', String(opts.guest.cpus));
  argv.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot');
  argv.push('-kernel', opts.kernel);
  if (opts.initrd !== null) argv.push('-initrd', opts.initrd);
  argv.push('-append', kernelCommandLine(opts));
  argv.push('-serial', 'stdio');
  if (opts.result) {
    const path = escapeOptionValue(opts.result.path);
    const backend = opts.result.kind === 'socket' ? `socket,id=result,path=${path}` : `file,id=result,path=${path}`;
    // microvm creates only one ISA serial port from -serial; a second needs -device isa-serial.
    argv.push('-chardev', backend, '-device', 'isa-serial,chardev=result,index=1');
  }
  if (opts.swapDisk) {
    argv.push('-drive', `file=${escapeOptionValue(opts.swapDisk)},if=none,id=swap,format=raw`, '-device', 'nvme,drive=swap,serial=faultline-swap');
  }
  return argv;
}

/** QEMU splits option values at commas; a literal comma is written twice. */
function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}
