/* The case's memory region: the registered mapping `reg` and, for file-backed memory, an
 * unregistered MAP_SHARED alias of the same file. */
#ifndef FAULTLINE_REGION_H
#define FAULTLINE_REGION_H

#include <stddef.h>

enum backend { BACKEND_ANON, BACKEND_SHMEM, BACKEND_HUGETLB };

struct region {
	size_t psz;
	size_t pages;
	int fd;
	char *reg;
	char *alias;
};

#define HUGE_PSZ ((size_t)2 << 20)

/* 0 on success; 1 = skip (reason in why); -1 = failure (reason in why). `thp`: shmem from a
 * tmpfs mounted huge=always, so its page cache holds transparent huge pages. */
int region_map(struct region *r, enum backend b, int shared, size_t pages, int alias, int thp, char *why, size_t whylen);
/* How many kB of the mapping holding addr are mapped by PMDs (smaps ShmemPmdMapped); -1 if unknown. */
long region_pmd_mapped_kb(const void *addr);
/* Free 2 MiB huge pages not already reserved, and the pool size; -1 when hugetlb is absent. */
long hugepages_available(long *total);
/* The skip reason for too few huge pages, naming the sysctl that fixes it. */
void hugepages_reason(long needed, char *why, size_t whylen);
/* Pointer to page P of the target mapping ("reg" or "alias"). */
char *region_page(const struct region *r, const char *target, size_t page);

#endif
