import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { FaultlineError } from '../runner/core/errors.js';
import { errnoText } from '../runner/core/files.js';
import { bzImageSize, isBzImage } from './bzimage.js';
import { loadKernelDefinition } from './definition.js';
import type { KernelSpec } from './spec-kinds.js';

export type { KernelSpec, SourceSpec } from './spec-kinds.js';

const debianPackageName = /^[a-z0-9][a-z0-9+.-]+$/;

// `--kernel` text is parsed once, up front, so a typo fails before anything is downloaded.
export function parseKernelSpec(text: string): KernelSpec {
  const trimmed = text.trim();
  if (trimmed === 'host') return { kind: 'host' };
  if (trimmed.startsWith('debian:')) {
    const name = trimmed.slice('debian:'.length);
    if (!debianPackageName.test(name)) {
      throw new FaultlineError('kernel', `"${name}" is not a Debian package name`, {
        where: text,
        hint: 'write debian:<package>, e.g. debian:linux-image-cloud-amd64 or debian:linux-image-6.1.0-56-cloud-amd64',
      });
    }
    return { kind: 'debian', package: name };
  }
  if (/\.ya?ml$/.test(trimmed)) return loadKernelDefinition(resolve(trimmed));
  const path = resolve(trimmed);
  if (trimmed.endsWith('.deb')) {
    checkExists(path);
    return { kind: 'deb', path };
  }
  checkKernelFile(path);
  return { kind: 'file', path };
}

// The spec as it would be written on the command line, for reports and cache keys.
export function formatKernelSpec(spec: KernelSpec): string {
  if (spec.kind === 'host') return 'host';
  if (spec.kind === 'debian') return `debian:${spec.package}`;
  if (spec.kind === 'source') {
    if (spec.definition) return spec.take === undefined ? spec.definition : `${spec.definition} (first ${spec.take} patches)`;
    const patches = spec.take === undefined ? spec.patches.length : spec.take;
    return `${spec.tree}${patches ? ` + ${patches} patch${patches === 1 ? '' : 'es'}` : ''}`;
  }
  return spec.path;
}

function checkExists(path: string): number {
  const hint = 'give the path of a bzImage (arch/x86/boot/bzImage or /boot/vmlinuz-*), a linux-image-*.deb, debian:<package>, or host';
  let stat;
  try {
    stat = statSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be read: ${errnoText(cause)}`;
    throw new FaultlineError('kernel', `kernel file ${path} ${what}`, { hint, cause });
  }
  if (stat.isDirectory()) {
    throw new FaultlineError('kernel', `kernel file ${path} is a directory`, {
      hint: `give the kernel inside it, e.g. ${join(path, 'arch/x86/boot/bzImage')}; to build a source tree use --tree ${path}`,
    });
  }
  if (!stat.isFile()) throw new FaultlineError('kernel', `kernel file ${path} is not a regular file (${fileKind(stat)})`, { hint });
  return stat.size;
}

function fileKind(stat: Stats): string {
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a FIFO';
  return stat.isSocket() ? 'a socket' : 'not a file';
}

function checkKernelFile(path: string): void {
  const size = checkExists(path);
  const head = Buffer.alloc(Math.min(size, 1024));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!isBzImage(head)) {
    throw new FaultlineError('kernel', `${path} is not a bzImage (no "HdrS" boot header)`, {
      hint: 'give arch/x86/boot/bzImage, not vmlinux or a compressed module; or use debian:<package> or host',
    });
  }
  const expected = bzImageSize(head);
  if (expected !== null && size < expected) {
    throw new FaultlineError('kernel', `${path} is truncated: its boot header describes ${expected} bytes, the file has ${size}`, {
      hint: 'copy or download the kernel again (or rebuild it: make bzImage)',
    });
  }
}
