import type { KernelRecord, KernelRole } from './types.js';

/** Where a kernel's files go in its results directory: the top for a single kernel, else kernel-N/. */
export const kernelDirOf = (index: number, kernels: number): string => (kernels === 1 ? '' : `kernel-${index}`);

// A kernel that never resolved (its build failed, or the run stopped or was killed first) still
// needs a record for its cases' results: its spec stands for its name.
export function unresolvedKernel(slot: { index: number; role: KernelRole | null; dir: string }, spec: string): KernelRecord {
  return { id: `unresolved-${slot.index}`, label: spec, index: slot.index, spec, role: slot.role, release: null, accel: null, timeoutScale: 1, dir: slot.dir };
}
