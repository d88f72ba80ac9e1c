import { totalmem } from 'node:os';
import { resolveGuestImage, type ResolvedGuestImage } from '../../images/guest-image.js';
import type { KernelSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../core/errors.js';
import type { GuestImageRecord } from '../model/types.js';
import type { GuestConfig } from '../qemu/guest-config.js';

/** An engine image's filesystem segment, which goes before faultline's own in every guest's initramfs. */
export interface GuestRootfs {
  path: string;
  /** What the guest's memory grows by to hold it: the archive and its files unpacked, at once. */
  memoryMiB: number;
}

const MiB = 1024 * 1024;
/** No guest asks for more than this, however big the host. */
const guestMemoryCapMiB = 32 * 1024;

/** The image a kernel's guests boot: its definition's own, else the run's --image. */
export function guestImageName(guest: GuestConfig, spec: KernelSpec): string {
  return (spec.kind === 'source' && spec.image) || guest.image;
}

const resolutions = new WeakMap<object, Map<string, Promise<ResolvedGuestImage>>>();

// Once per distinct image per run (`run` is anything that lives as long as the run): kernels
// that share an image share its build and export.
export function resolveGuestImageOnce(run: object, name: string, o: Parameters<typeof resolveGuestImage>[1]): Promise<ResolvedGuestImage> {
  let byName = resolutions.get(run);
  if (!byName) resolutions.set(run, (byName = new Map()));
  let resolved = byName.get(name);
  if (!resolved) {
    resolved = resolveGuestImage(name, o);
    byName.set(name, resolved);
  }
  return resolved;
}

/** How run.json names a guest's userland; `baseHash` is the built-in image's. */
export function guestImageRecord(name: string, image: ResolvedGuestImage, baseHash: string): GuestImageRecord {
  return image.kind === 'busybox' ? { name, id: null, contentKey: baseHash } : { name, id: image.image.id, contentKey: image.image.contentKey };
}

// The kernel holds the initramfs and the files it unpacks from it at once, so a guest grows by
// both; a guest the host cannot give that much is refused before any boots, saying how much.
export function guestRootfs(name: string, image: ResolvedGuestImage, guest: GuestConfig): GuestRootfs | null {
  if (image.kind === 'busybox') return null;
  const { summary } = image.rootfs;
  const memoryMiB = Math.ceil((summary.bytes + summary.unpackedBytes) / MiB);
  const need = guest.baseMemoryMiB + memoryMiB;
  const hostMiB = Math.floor(totalmem() / MiB);
  const limit = Math.min(guestMemoryCapMiB, Math.floor((hostMiB * 3) / 4));
  if (need > limit) {
    throw new FaultlineError('image', `the guest's memory must be ${need} MiB to boot the image ${name}: ${guest.baseMemoryMiB} MiB for the guest, ${Math.ceil(summary.bytes / MiB)} MiB for the image's initramfs and ${Math.ceil(summary.unpackedBytes / MiB)} MiB for its files unpacked, which the kernel holds at once; this host gives a guest at most ${limit} MiB (${limit === guestMemoryCapMiB ? 'faultline\'s cap' : `three quarters of its ${hostMiB} MiB`})`, {
      where: name,
      hint: 'Use a smaller image (leave documentation, caches and compilers the cases do not need out of it), or run on a host with more memory.',
    });
  }
  return { path: image.rootfs.path, memoryMiB };
}
