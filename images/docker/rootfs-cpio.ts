import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { cpioMember, cpioTrailer, type CpioEntry } from '../cpio.js';
import { placeholderAction } from './placeholders.js';

/** What an exported filesystem held, as far as booting it as a guest goes. */
export interface RootfsSummary {
  /** The archive's size. */
  bytes: number;
  /** About what its files take unpacked in the guest's RAM (each file in whole pages, plus its inode). */
  unpackedBytes: number;
  members: number;
  /** Whether /bin/sh resolves (through the image's own symlinks) to a file the agent can run. */
  shell: boolean;
  bash: boolean;
}

const pageBytes = 4096;
const batchBytes = 8 * 1024 * 1024;
/** An inode and dentry in the guest's rootfs, roughly. */
const inodeBytes = 1024;

// Streams `docker export`'s tar into an uncompressed newc archive written at `out`: a Debian
// userland is several hundred megabytes, so nothing is held whole. Hard links are written as
// copies of their target's data (read back from the archive itself): the kernel links cpio
// members only when the first one already says it has more than one name, which a stream
// cannot know. Modes, owners and symlinks are kept.
export async function tarToCpio(tarStream: Readable, out: FileHandle, signal?: AbortSignal): Promise<RootfsSummary> {
  const extract = tar.extract();
  // A stream destroyed by a stop, or cut by the engine, must end the read: nothing else would.
  if (tarStream.destroyed) throw new Error('the export stream was closed before it was read');
  tarStream.on('error', (error) => extract.destroy(error));
  tarStream.on('close', () => {
    if (!tarStream.readableEnded) extract.destroy(new Error('the export stream closed before its end'));
  });
  tarStream.pipe(extract);
  let offset = 0;
  let ino = 1;
  let unpackedBytes = 0;
  const tree = new ExportedTree();
  /** Where each regular file's data is in the archive, for the hard links to it. */
  const dataAt = new Map<string, { offset: number; size: number }>();
  // Members are written in batches: one write per member made a Debian export take 10 s.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let written = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const batch = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await out.write(batch, 0, batch.length, written);
    written += batch.length;
  };
  const write = async (entry: CpioEntry): Promise<void> => {
    const bytes = cpioMember(entry, ino++);
    if (entry.type === 'file') {
      const header = bytes.length - padded(entry.data.length);
      dataAt.set(entry.path, { offset: offset + header, size: entry.data.length });
      unpackedBytes += Math.ceil(entry.data.length / pageBytes) * pageBytes;
    }
    unpackedBytes += inodeBytes;
    tree.add(entry);
    pending.push(bytes);
    pendingBytes += bytes.length;
    offset += bytes.length;
    if (pendingBytes >= batchBytes) await flush();
  };
  for await (const member of extract) {
    signal?.throwIfAborted();
    const h = member.header;
    const path = h.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const data = await collect(member);
    if (path === '' || path === '.') continue;
    const action = placeholderAction(path);
    if (!action.keep) {
      if (action.instead) await write(action.instead);
      continue;
    }
    const owner = { uid: h.uid ?? 0, gid: h.gid ?? 0 };
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'directory':
        await write({ type: 'dir', path, mode, ...owner });
        break;
      case 'symlink':
        await write({ type: 'symlink', path, target: h.linkname ?? '', ...owner });
        break;
      case 'link': {
        const target = (h.linkname ?? '').replace(/^(\.\/)+/, '');
        const at = dataAt.get(target);
        const copy = Buffer.alloc(at?.size ?? 0);
        await flush();
        if (at) await out.read(copy, 0, at.size, at.offset);
        await write({ type: 'file', path, mode, data: copy, ...owner });
        break;
      }
      case 'character-device':
        await write({ type: 'chardev', path, mode, major: h.devmajor ?? 0, minor: h.devminor ?? 0, ...owner });
        break;
      case 'file':
      case 'contiguous-file':
      case null:
      case undefined:
        await write({ type: 'file', path, mode, data, ...owner });
        break;
      default:
        // Block devices and fifos have no place in a guest's initramfs (devtmpfs makes devices).
        break;
    }
  }
  const trailer = cpioTrailer();
  pending.push(trailer);
  pendingBytes += trailer.length;
  offset += trailer.length;
  await flush();
  const shell = tree.resolve('bin/sh');
  const bash = tree.resolve('bin/bash');
  return { bytes: offset, unpackedBytes, members: ino - 1, shell: shell !== null && tree.isFile(shell), bash: bash !== null && tree.isFile(bash) };
}

async function collect(member: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of member) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function padded(length: number): number {
  return length + ((4 - (length % 4)) % 4);
}

// The exported tree's names, to follow a path through the image's own symlinks (Debian's
// bin -> usr/bin) as the guest's kernel will.
class ExportedTree {
  private readonly links = new Map<string, string>();
  private readonly files = new Set<string>();

  add(entry: CpioEntry): void {
    if (entry.type === 'symlink') this.links.set(entry.path, entry.target);
    else if (entry.type === 'file') this.files.add(entry.path);
  }

  isFile(path: string): boolean {
    return this.files.has(path);
  }

  /** The path with every symlink on it followed, or null for a loop. */
  resolve(path: string): string | null {
    let parts = path.split('/');
    for (let hops = 0; hops < 40; hops++) {
      const done: string[] = [];
      let followed = false;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (part === '' || part === '.') continue;
        if (part === '..') {
          done.pop();
          continue;
        }
        const here = [...done, part].join('/');
        const target = this.links.get(here);
        if (target !== undefined) {
          parts = [...(target.startsWith('/') ? [] : done), ...target.split('/'), ...parts.slice(i + 1)];
          followed = true;
          break;
        }
        done.push(part);
      }
      if (!followed) return done.join('/');
    }
    return null;
  }
}
