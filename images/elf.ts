// Busybox and the helper run in an initramfs without a dynamic loader, so both must be static
// ELF files (no PT_INTERP program header); checking beats a guest that dies with ENOENT.
export function isStaticElf(file: Uint8Array): boolean {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.length);
  if (buf.length < 64 || buf.toString('latin1', 0, 4) !== '\x7fELF' || buf[4] !== 2 || buf[5] !== 1) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  if (phoff + phentsize * phnum > buf.length) return false;
  for (let i = 0; i < phnum; i++) {
    const PT_INTERP = 3;
    if (buf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) return false;
  }
  return true;
}
