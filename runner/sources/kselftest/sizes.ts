/** How big the stress phases are: run_vmtests.sh's sizes under KVM and on the host, small ones
 * under TCG (where 6.1's `shmem 16 2` alone took 47 s), or what the user asked for. */
export interface KselftestSizes {
  mib: number | null;
  bounces: number | null;
  /** Huge pages a guest reserves for the hugetlb runs; half of them in MiB is run_vmtests.sh's "half". */
  hugepages: number;
}

export function kselftestSizes(accel: 'kvm' | 'tcg' | 'host', override: { mib?: number; bounces?: number }): KselftestSizes {
  const slow = accel === 'tcg';
  return { mib: override.mib ?? (slow ? 4 : null), bounces: override.bounces ?? (slow ? 2 : null), hugepages: slow ? 64 : 128 };
}

/** For the run's output: how big the selftests run on a kernel, and why. */
export function describeSizes(sizes: KselftestSizes, accel: 'kvm' | 'tcg' | 'host'): string {
  const mib = sizes.mib === null ? "run_vmtests.sh's sizes" : `${sizes.mib} MiB`;
  const bounces = sizes.bounces === null ? "run_vmtests.sh's bounce counts" : `${sizes.bounces} bounces`;
  const why = accel === 'tcg' ? 'smaller under TCG' : accel === 'host' ? 'on the host' : 'under KVM';
  return `kselftest stress runs use ${mib} and ${bounces} (${why}; --kselftest-mib and --kselftest-bounces set them)${accel === 'host' ? '' : `, with ${sizes.hugepages} huge pages reserved`}`;
}
