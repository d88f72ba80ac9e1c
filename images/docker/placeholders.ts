import type { CpioEntry } from '../cpio.js';

// What `docker export` puts into every container's filesystem for a container that runs, and
// what a booting guest needs instead. The engine bind-mounts its own hosts, hostname and
// resolv.conf over these empty files, and mounts /dev; in an initramfs they would be empty
// files and a /dev/console that is a regular file, so the kernel's console would open nothing.
const dropped = new Set(['.dockerenv']);

const replaced: Record<string, string> = {
  'etc/hostname': 'faultline\n',
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tfaultline\n',
  // The guest has no network; a resolver file that names no server says so to any program that looks.
  'etc/resolv.conf': '# a faultline guest has no network\n',
};

/** What becomes of an exported member: kept, dropped, or written as another member. */
export type PlaceholderAction = { keep: true } | { keep: false; instead: CpioEntry | null };

// Everything under dev/ goes: the agent mounts devtmpfs there, and faultline's own layer adds
// the console the kernel opens before it does. etc/mtab becomes the link a booted system has.
export function placeholderAction(path: string): PlaceholderAction {
  if (path.startsWith('dev/')) return { keep: false, instead: null };
  if (path === 'etc/mtab') return { keep: false, instead: { type: 'symlink', path, target: '../proc/self/mounts' } };
  if (dropped.has(path)) return { keep: false, instead: null };
  const text = replaced[path];
  if (text !== undefined) return { keep: false, instead: { type: 'file', path, mode: 0o644, data: Buffer.from(text) } };
  return { keep: true };
}
