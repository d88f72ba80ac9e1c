import { byVersion } from '../../kernels/debian.js';

// Kernels are bisected oldest first: by release, numbers compared as numbers (6.1.0-9 before
// 6.1.0-10); equal releases (bzImages of one tree with different patches) keep the order given.
export function orderByRelease<T extends { release: string }>(kernels: readonly T[]): T[] {
  return kernels
    .map((kernel, given) => ({ kernel, given }))
    .sort((a, b) => byVersion(a.kernel.release, b.kernel.release) || a.given - b.given)
    .map((k) => k.kernel);
}
