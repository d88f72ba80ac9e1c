import type { RunUnit } from '../sources/unit.js';

/** The most cases a guest runs at once unless --workers says otherwise. The cases mostly wait
 * (their `blocked` and `no_event` windows, thread joins), so more than the vCPUs pay; measured
 * with the default suites under TCG on one vCPU (README, "Cases side by side"). */
export const defaultWorkersCap = 4;

/** Huge pages come out of the guest's memory, which comes out of the host's: a case that needs
 * more skips rather than making QEMU fail to allocate the guest for every case. */
export const guestHugepagesMax = 1024;

// How many of these units a guest runs at once: what was asked for (1 keeps the plan's order),
// or the cap, never more than the units that may run beside another (an `alone` one never does).
export function guestWorkers(units: readonly RunUnit[], requested: number | null): number {
  const sideBySide = units.filter((u) => !u.alone).length;
  return Math.max(1, Math.min(requested ?? defaultWorkersCap, sideBySide));
}

// The huge pages a guest reserves at boot: enough for the units that may run at once (the
// `workers` largest of those that run beside others, together), or for the largest that runs
// alone, whichever is more; never past guestHugepagesMax (the helper starts a unit only when its
// pages fit beside the running ones', so fewer only means less overlap).
export function guestHugepages(units: readonly RunUnit[], workers: number): number {
  const alone = Math.max(0, ...units.filter((u) => u.alone || workers === 1).map((u) => u.hugepages));
  const together = units
    .filter((u) => !u.alone && workers > 1)
    .map((u) => u.hugepages)
    .sort((a, b) => b - a)
    .slice(0, workers)
    .reduce((sum, n) => sum + n, 0);
  return Math.min(guestHugepagesMax, Math.max(alone, together));
}
