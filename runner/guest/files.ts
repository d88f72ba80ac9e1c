/** Where one kernel's files go: the results directory itself, or kernel-N/ when there are several. */
export interface KernelFiles {
  /** Inside the results directory ('' for its top). */
  dir: string;
  path(name: string): string;
}

export type GuestFile = 'console' | 'results' | 'initrd' | 'qemu-command' | 'plan' | 'guest-end';
const extensions: Record<GuestFile, string> = { console: 'log', results: 'raw', initrd: 'img', 'qemu-command': 'txt', plan: 'txt', 'guest-end': 'json' };

// Guest g of a kernel's cases: console.log for the first, console-2.log after a restart, and
// console-rerun1.log, console-rerun1-2.log for a rerun before a regression is called. A saved
// run is read again (report --reparse) by the same names.
export function guestFileName(kind: GuestFile, guest: number, rerun = 0): string {
  const tag = [rerun > 0 ? `rerun${rerun}` : '', guest > 1 ? String(guest) : ''].filter(Boolean).join('-');
  return `${kind}${tag ? `-${tag}` : ''}.${extensions[kind]}`;
}
