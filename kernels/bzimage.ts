import { open } from 'node:fs/promises';

// Offsets in the x86 boot protocol's setup header (Documentation/arch/x86/boot.rst).
const HEADER_MAGIC_OFFSET = 0x202; // "HdrS"
const PROTOCOL_VERSION_OFFSET = 0x206;
const KERNEL_VERSION_OFFSET = 0x20e; // pointer to the version string, minus 0x200
/** Enough of the file to hold the setup header and the version string it points to. */
export const BZIMAGE_PROBE_BYTES = 64 * 1024;

// A file given as a kernel is checked for the setup header so a wrong path fails at once,
// not as a silent QEMU hang.
export function isBzImage(head: Uint8Array): boolean {
  if (head.length < HEADER_MAGIC_OFFSET + 4) return false;
  return Buffer.from(head.buffer, head.byteOffset, head.length).toString('latin1', HEADER_MAGIC_OFFSET, HEADER_MAGIC_OFFSET + 4) === 'HdrS';
}

const SETUP_SECTS_OFFSET = 0x1f1;
const SYSSIZE_OFFSET = 0x1f4; // the protected-mode part, in 16-byte paragraphs

// The size the setup header promises: the boot sector and setup sectors, then the kernel
// proper. A file shorter than this was cut off in a copy or download.
export function bzImageSize(head: Uint8Array): number | null {
  if (!isBzImage(head)) return null;
  const buf = Buffer.from(head.buffer, head.byteOffset, head.length);
  const setupSectors = buf.readUInt8(SETUP_SECTS_OFFSET) || 4;
  return (setupSectors + 1) * 512 + buf.readUInt32LE(SYSSIZE_OFFSET) * 16;
}

// The release (`uname -r`) is read from the image's kernel_version string so a kernel can be
// named and matched against `needs: kernel` without booting it. Returns null when absent.
export function bzImageVersionString(head: Uint8Array): string | null {
  if (!isBzImage(head)) return null;
  const buf = Buffer.from(head.buffer, head.byteOffset, head.length);
  if (buf.readUInt16LE(PROTOCOL_VERSION_OFFSET) < 0x0200) return null;
  const pointer = buf.readUInt16LE(KERNEL_VERSION_OFFSET);
  if (pointer === 0) return null;
  const start = pointer + 0x200;
  if (start >= buf.length) return null;
  const end = buf.indexOf(0, start);
  const text = buf.toString('latin1', start, end === -1 ? Math.min(buf.length, start + 512) : end).trim();
  return text === '' ? null : text;
}

// The first word of the version string is the release, e.g. "6.1.0-56-cloud-amd64".
export function bzImageRelease(head: Uint8Array): string | null {
  const text = bzImageVersionString(head);
  const release = text?.split(/\s+/)[0];
  return release ? release : null;
}

// Reads only the head of the image: a bzImage is megabytes, the header a few hundred bytes.
export async function readBzImageHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(BZIMAGE_PROBE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
