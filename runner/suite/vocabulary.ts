// The uffd names a suite may use, in one place so the schema, the compiler and `list` agree
// with the plan format the native helper reads.
export const backends = ['anon', 'shmem', 'hugetlb'] as const;
export type Backend = (typeof backends)[number];

export const featureNames = [
  'PAGEFAULT_FLAG_WP', 'EVENT_FORK', 'EVENT_REMAP', 'EVENT_REMOVE', 'MISSING_HUGETLBFS',
  'MISSING_SHMEM', 'EVENT_UNMAP', 'SIGBUS', 'THREAD_ID', 'MINOR_HUGETLBFS', 'MINOR_SHMEM',
  'EXACT_ADDRESS', 'WP_HUGETLBFS_SHMEM', 'WP_UNPOPULATED', 'POISON', 'WP_ASYNC', 'MOVE',
] as const;
/** Per-backend shorthands: `MINOR` on a shmem case means MINOR_SHMEM. */
export const backendFeatureNames = ['MINOR', 'MISSING'] as const;
export const suiteFeatureNames = [...featureNames, ...backendFeatureNames] as const;
export type SuiteFeature = (typeof suiteFeatureNames)[number];

export const registerModes = ['MISSING', 'WP', 'MINOR'] as const;
export const faultFlags = ['WRITE', 'WP', 'MINOR'] as const;
export const ioctlNames = ['WAKE', 'COPY', 'ZEROPAGE', 'MOVE', 'WRITEPROTECT', 'CONTINUE', 'POISON'] as const;
export const ioctlOps = ['CONTINUE', 'COPY', 'ZEROPAGE', 'WAKE', 'WRITEPROTECT'] as const;
export const ioctlModes = ['DONTWAKE', 'WP'] as const;
export const eventTypes = ['PAGEFAULT', 'FORK', 'REMAP', 'REMOVE', 'UNMAP'] as const;
export const madviseAdvice = ['DONTNEED', 'REMOVE', 'PAGEOUT', 'HUGEPAGE', 'NOHUGEPAGE', 'COLLAPSE'] as const;
export const errnoNames = [
  'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'E2BIG', 'EBADF', 'EAGAIN', 'ENOMEM', 'EACCES',
  'EFAULT', 'EBUSY', 'EEXIST', 'ENODEV', 'EINVAL', 'ENOSPC', 'ESPIPE', 'ERANGE', 'EROFS', 'ENOSYS',
  'ENOTTY', 'EPROTO', 'EOPNOTSUPP', 'ENXIO', 'EHWPOISON',
] as const;

/** The helper's ranges (suites/native/plan.c): numbers, a case's timeout_ms, suite and case names. */
export const planNumberMax = 0x7fffffff;
export const planTimeoutMaxMs = 3_600_000;
export const planNameMax = 127;

export function resolveFeature(name: SuiteFeature | number, backend: Backend | null): string | null {
  if (typeof name === 'number') return `0x${name.toString(16)}`;
  if (name === 'MINOR') return backend === 'hugetlb' ? 'MINOR_HUGETLBFS' : backend === 'shmem' ? 'MINOR_SHMEM' : null;
  if (name === 'MISSING') return backend === 'hugetlb' ? 'MISSING_HUGETLBFS' : backend === 'shmem' ? 'MISSING_SHMEM' : null;
  return name;
}
