import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where one kernel's files go: the results directory itself, or kernel-N/ when there are several.
 * Handed out by the directory's owner (results/results-dir.ts), which the engine writes through. */
export interface KernelFiles {
  /** Inside the results directory ('' for its top). */
  dir: string;
  /** For what a program streams into (QEMU's console log, the result channel's bytes, the initrd it boots). */
  path(name: string): string;
  write(name: string, data: string | Uint8Array): void;
}

/** `dir` of the directory `root`, made if it is not there. */
export function filesIn(root: string, dir: string): KernelFiles {
  const path = (name: string) => join(root, dir, name);
  mkdirSync(path(''), { recursive: true });
  return { dir, path, write: (name, data) => writeFileSync(path(name), data) };
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

// The names guestFileName gives, and host-end.json, which a --kernel host run writes by the same
// scheme (kernel-run.ts): merge copies a shard's kernel files by them, and no output may replace them.
const guestFilePattern = new RegExp(`^(?:${[...Object.entries(extensions), ['host-end', 'json']].map(([kind, ext]) => `${kind}(?:-rerun\\d+)?(?:-\\d+)?\\.${ext}`).join('|')})$`);

export const isGuestFileName = (name: string): boolean => guestFilePattern.test(name);
