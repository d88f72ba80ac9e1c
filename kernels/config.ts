import { FaultlineError } from '../runner/core/errors.js';

// A kernel .config as a map from option (with its CONFIG_ prefix) to value; options written
// as "# CONFIG_X is not set" map to 'n' so they differ from options the config never mentions.
export function parseKernelConfig(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) {
      options.set(unset[1]!, 'n');
      continue;
    }
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!set) continue;
    const value = set[2]!;
    options.set(set[1]!, value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
  }
  return options;
}

/** Who needs an option: booting the busybox guest, or running the suites at all (host too). */
export type OptionScope = 'guest' | 'suites';

export interface RequiredOption {
  name: string;
  scope: OptionScope;
  why: string;
}

// What the guest and the suites cannot do without, built in (=y): the guest loads no modules.
export const requiredKernelOptions: readonly RequiredOption[] = [
  { name: 'CONFIG_USERFAULTFD', scope: 'suites', why: 'the userfaultfd syscall under test' },
  { name: 'CONFIG_SHMEM', scope: 'suites', why: 'shmem-backed cases (memfd)' },
  { name: 'CONFIG_MEMFD_CREATE', scope: 'suites', why: 'memfd_create for shmem and hugetlb regions' },
  { name: 'CONFIG_HUGETLBFS', scope: 'suites', why: 'hugetlb-backed cases' },
  { name: 'CONFIG_FUTEX', scope: 'suites', why: 'threads in the static helper' },
  { name: 'CONFIG_ADVISE_SYSCALLS', scope: 'suites', why: 'madvise (DONTNEED, REMOVE, PAGEOUT cases); tinyconfig turns it off' },
  { name: 'CONFIG_PROC_PAGE_MONITOR', scope: 'suites', why: '/proc/self/pagemap for the PTE checks' },
  { name: 'CONFIG_PRINTK', scope: 'guest', why: 'kernel messages on the console' },
  { name: 'CONFIG_SERIAL_8250', scope: 'guest', why: 'the console and result serial ports' },
  { name: 'CONFIG_SERIAL_8250_CONSOLE', scope: 'guest', why: 'console=ttyS0' },
  { name: 'CONFIG_BLK_DEV_INITRD', scope: 'guest', why: 'booting the initramfs' },
  { name: 'CONFIG_RD_GZIP', scope: 'guest', why: 'the initramfs is gzip-compressed' },
  { name: 'CONFIG_BINFMT_ELF', scope: 'guest', why: 'running busybox and the helper' },
  { name: 'CONFIG_BINFMT_SCRIPT', scope: 'guest', why: 'the /init shell script' },
  { name: 'CONFIG_PROC_FS', scope: 'guest', why: '/proc for the guest agent and helper' },
  { name: 'CONFIG_PROC_SYSCTL', scope: 'guest', why: 'the agent sets the console loglevel and reserves huge pages' },
  { name: 'CONFIG_SYSFS', scope: 'guest', why: '/sys in the guest' },
  { name: 'CONFIG_DEVTMPFS', scope: 'guest', why: '/dev/ttyS1 and /dev/userfaultfd in the guest' },
  { name: 'CONFIG_TMPFS', scope: 'guest', why: '/tmp in the guest' },
];

// Names every required option that is not built in; the host only needs the suites' options.
export function missingOptions(config: ReadonlyMap<string, string>, scope: OptionScope = 'guest'): RequiredOption[] {
  return requiredKernelOptions.filter(
    (option) => (scope === 'guest' || option.scope === 'suites') && config.get(option.name) !== 'y',
  );
}

// A kernel whose config lacks an option fails here, naming each one, rather than as a hang.
export function assertKernelOptions(config: ReadonlyMap<string, string>, where: string, scope: OptionScope = 'guest'): void {
  const missing = missingOptions(config, scope);
  if (missing.length === 0) return;
  const list = missing
    .map((option) => `${option.name} (${describeValue(config.get(option.name))}; needed for ${option.why})`)
    .join(', ');
  throw new FaultlineError('kernel', `kernel config lacks ${list}`, {
    where,
    hint: `build the kernel with ${missing.map((option) => `${option.name}=y`).join(' ')}`,
  });
}

/** How an option stands in a config: absent, "# ... is not set", or its value (=m: a module). */
function describeValue(value: string | undefined): string {
  if (value === undefined) return 'not in the config';
  if (value === 'n') return 'not set';
  return value === 'm' ? '=m, a module, which the guest cannot load' : `=${value}`;
}
