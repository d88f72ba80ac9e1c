/* Creating the region: anonymous memory, a memfd (shmem), or a hugetlb memfd. */
#define _GNU_SOURCE
#include "region.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
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
	const struct region_move *m = base == r->reg ? region_move_of(r, page) : NULL;

	if (m && m->to)
		return m->to + (page - m->page) * r->psz;
	return base + page * r->psz;
}

/* A file on a private tmpfs mounted huge=always (the mount is detached at once; the open file
 * keeps it alive). Needs CAP_SYS_ADMIN, which the guest's root has. */
static int huge_tmpfs_file(char *why, size_t whylen)
{
	char dir[] = "/tmp/faultline-thp-XXXXXX";
	char path[64];
	int fd;

	if (!mkdtemp(dir))
		return snprintf(why, whylen, "mkdtemp: %s", strerror(errno)), -1;
	if (mount("tmpfs", dir, "tmpfs", 0, "huge=always")) {
		int e = errno;
		rmdir(dir);
		snprintf(why, whylen, e == EINVAL ? "tmpfs rejects huge=always (no CONFIG_TRANSPARENT_HUGEPAGE): %s"
						   : "cannot mount a huge=always tmpfs: %s", strerror(e));
		return -2;
	}
	snprintf(path, sizeof(path), "%s/region", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		unlink(path);
	else
		snprintf(why, whylen, "open %s: %s", path, strerror(errno));
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return fd;
}

long region_pmd_mapped_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long lo, hi, a = (unsigned long)addr;
	long kb = -1;
	int inside = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = a >= lo && a < hi;
		else if (inside && sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int region_map(struct region *r, enum backend b, int shared, size_t pages, int alias, int thp, char *why, size_t whylen)
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
	if (thp) {
		r->fd = huge_tmpfs_file(why, whylen);
		if (r->fd == -2)
			return 1;
		if (r->fd < 0)
			return -1;
	} else {
		r->fd = memfd_create("faultline", MFD_CLOEXEC | (b == BACKEND_HUGETLB ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	}
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
		/* A THP file is filled through its alias, madvised because with THP defrag at its
		 * default ("madvise") only such a fault may compact memory for the huge page. The
		 * registered mapping is kept from khugepaged: collapsing a PTE-mapped THP there
		 * retracts its page table, dropping the PTEs CONTINUE installed in the middle of a
		 * case (uffd-wp ranges are exempt, minor ones are not). */
		madvise(r->reg, len, thp && !r->alias ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		if (r->alias)
			madvise(r->alias, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	}
	return 0;
}
