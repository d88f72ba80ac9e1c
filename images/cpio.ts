import { gzipSync } from 'node:zlib';

/** One member of a newc archive; paths are relative to the root, without a leading slash. */
export type CpioEntry = (
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; data: Uint8Array }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; mode?: number; major: number; minor: number }
) & CpioOwner;

/** Who owns a member; root (0) when not given, as faultline's own members are. */
export interface CpioOwner {
  uid?: number;
  gid?: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

// The kernel's initramfs loader reads the "newc" cpio format; writing it ourselves keeps image
// builds deterministic (mtime 0, uid 0, sorted) so their content hash is stable.
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) {
    const path = normalizePath(entry.path);
    if (byPath.has(path)) throw new Error(`cpio: duplicate path ${path}`);
    byPath.set(path, { ...entry, path });
  }
  // Parents are created implicitly so every member has its directory before it.
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { type: 'dir', path: parent });
      else if (existing.type !== 'dir') throw new Error(`cpio: ${parent} is not a directory but ${path} is under it`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const entry of sorted) chunks.push(member(entry, ino++));
  chunks.push(cpioTrailer());
  return Buffer.concat(chunks);
}

// The kernel accepts gzip; a fixed level and zlib's zero mtime keep the output reproducible.
export function gzipCpio(archive: Uint8Array): Buffer {
  return gzipSync(archive, { level: 9 });
}

function normalizePath(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio: bad path "${path}"`);
  }
  return trimmed;
}

/** One member as newc bytes, for writers that stream an archive (a large image) instead of
 * building it whole; the caller gives each member its own inode number and parents first. */
export function cpioMember(entry: CpioEntry, ino: number): Buffer {
  return member({ ...entry, path: normalizePath(entry.path) }, ino);
}

/** The archive's end. */
export function cpioTrailer(): Buffer {
  return member({ type: 'file', path: 'TRAILER!!!', mode: 0, data: new Uint8Array(0) }, 0, true);
}

function member(entry: CpioEntry, ino: number, trailer = false): Buffer {
  let mode: number;
  let data: Uint8Array = new Uint8Array(0);
  let rdevMajor = 0;
  let rdevMinor = 0;
  let nlink = 1;
  switch (entry.type) {
    case 'dir':
      mode = S_IFDIR | (entry.mode ?? 0o755);
      nlink = 2;
      break;
    case 'file':
      mode = trailer ? 0 : S_IFREG | (entry.mode ?? 0o644);
      data = entry.data;
      break;
    case 'symlink':
      mode = S_IFLNK | 0o777;
      data = Buffer.from(entry.target);
      break;
    case 'chardev':
      mode = S_IFCHR | (entry.mode ?? 0o600);
      rdevMajor = entry.major;
      rdevMinor = entry.minor;
      break;
  }
  const name = Buffer.from(entry.path + '\0');
  const fields = [ino, mode, entry.uid ?? 0, entry.gid ?? 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor, name.length, 0];
  const header = Buffer.from('070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join(''), 'latin1');
  return Buffer.concat([header, name, padding(header.length + name.length), Buffer.from(data), padding(data.length)]);
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
