/* Creating the region: anonymous memory, a memfd (shmem), or a hugetlb memfd. */
#define _GNU_SOURCE
#include "region.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

long hugepages_available(long *total)
{
	const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
	char path[128];
	long free_pages, resv;

	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	*total = read_long(path);
	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	free_pages = read_long(path);
	snprintf(path, sizeof(path), "%s/resv_hugepages", dir);
	resv = read_long(path);
	if (*total < 0 || free_pages < 0)
		return -1;
	return free_pages - (resv > 0 ? resv : 0);
}

void hugepages_reason(long needed, char *why, size_t whylen)
{
	long total = 0;
	long avail = hugepages_available(&total);

	if (avail < 0)
		snprintf(why, whylen, "needs %ld free 2 MiB huge pages, but the kernel has no 2 MiB hugetlb pool "
			 "(CONFIG_HUGETLBFS)", needed);
	else
		snprintf(why, whylen, "needs %ld free 2 MiB huge pages (sysctl vm.nr_hugepages=%ld)", needed,
			 total + (needed - avail));
}

char *region_page(const struct region *r, const char *target, size_t page)
{
	char *base = (target && strcmp(target, "alias") == 0) ? r->alias : r->reg;
	return base + page * r->psz;
}

int region_map(struct region *r, enum backend b, int shared, size_t pages, int alias, char *why, size_t whylen)
{
	int share = shared ? MAP_SHARED : MAP_PRIVATE;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->pages = pages;
	r->fd = -1;
	r->psz = b == BACKEND_HUGETLB ? HUGE_PSZ : (size_t)sysconf(_SC_PAGESIZE);
	len = pages * r->psz;

	if (b == BACKEND_HUGETLB) {
		/* a private mapping reserves its own pages; the shared alias holds the file's */
		long needed = (long)pages * ((!shared && alias) ? 2 : 1);
		long total;
		if (hugepages_available(&total) < needed) {
			hugepages_reason(needed, why, whylen);
			return 1;
		}
	}
	if (b == BACKEND_ANON) {
		r->reg = mmap(NULL, len, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
		if (r->reg == MAP_FAILED)
			return snprintf(why, whylen, "mmap anon: %s", strerror(errno)), -1;
		madvise(r->reg, len, MADV_NOHUGEPAGE);
		return 0;
	}
	r->fd = memfd_create("faultline", MFD_CLOEXEC | (b == BACKEND_HUGETLB ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (r->fd < 0) {
		if (b == BACKEND_HUGETLB && (errno == EINVAL || errno == ENOENT || errno == ENOSYS))
			return snprintf(why, whylen, "kernel has no hugetlbfs memfd (CONFIG_HUGETLBFS): %s",
					strerror(errno)), 1;
		return snprintf(why, whylen, "memfd_create: %s", strerror(errno)), -1;
	}
	if (ftruncate(r->fd, (off_t)len) != 0)
		return snprintf(why, whylen, "ftruncate memfd: %s", strerror(errno)), -1;
	r->reg = mmap(NULL, len, PROT_READ | PROT_WRITE, share, r->fd, 0);
	if (r->reg == MAP_FAILED) {
		if (b == BACKEND_HUGETLB && errno == ENOMEM) {
			hugepages_reason((long)pages, why, whylen);
			return 1;
		}
		return snprintf(why, whylen, "mmap memfd: %s", strerror(errno)), -1;
	}
	if (alias) {
		r->alias = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		if (r->alias == MAP_FAILED) {
			if (b == BACKEND_HUGETLB && errno == ENOMEM) {
				hugepages_reason((long)pages * 2, why, whylen);
				return 1;
			}
			return snprintf(why, whylen, "mmap alias: %s", strerror(errno)), -1;
		}
	}
	if (b == BACKEND_SHMEM) {
		madvise(r->reg, len, MADV_NOHUGEPAGE);
		if (r->alias)
			madvise(r->alias, len, MADV_NOHUGEPAGE);
	}
	return 0;
}
