/* The case's memory region: the registered mapping `reg` and, for file-backed memory, an
 * unregistered MAP_SHARED alias of the same file. */
#ifndef FAULTLINE_REGION_H
#define FAULTLINE_REGION_H

#include <stddef.h>

enum backend { BACKEND_ANON, BACKEND_SHMEM, BACKEND_HUGETLB };

/* Pages [page, page+count) of reg moved by an mremap step from `from` to `to` (NULL while a
 * MAYMOVE-only mremap has not yet said where); later steps address them at `to`. */
struct region_move {
	size_t page, count;
	char *from, *to;
	size_t len; /* the old length, as the REMAP event reports it */
};

#define REGION_MOVES_MAX 8

struct region {
	size_t psz;
	size_t pages;
	int fd;
	char *reg;
	char *alias;
	int nmoves;
	struct region_move moves[REGION_MOVES_MAX];
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
/* Pointer to page P of the target mapping ("reg" or "alias"), where an mremap step moved it. */
char *region_page(const struct region *r, const char *target, size_t page);
/* The newest move of reg's page P, or NULL when it never moved (remap.c). */
const struct region_move *region_move_of(const struct region *r, size_t page);

#endif
