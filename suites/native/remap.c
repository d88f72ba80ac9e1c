/* mremap of the registered region (or part of it), and where its pages are afterwards. */
#define _GNU_SOURCE
#include "remap.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

const struct region_move *region_move_of(const struct region *r, size_t page)
{
	for (int i = r->nmoves - 1; i >= 0; i--)
		if (page >= r->moves[i].page && page < r->moves[i].page + r->moves[i].count)
			return &r->moves[i];
	return NULL;
}

/* A free, psz-aligned place for len bytes, kept as PROT_NONE anonymous memory so nothing else
 * lands there before the mremap replaces it. */
static char *reserve(size_t len, size_t psz, char *why, size_t whylen)
{
	size_t span = len + psz;
	char *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t aligned;

	if (p == MAP_FAILED) {
		snprintf(why, whylen, "reserve %zu bytes: %s", span, strerror(errno));
		return NULL;
	}
	aligned = ((uintptr_t)p + psz - 1) / psz * psz;
	/* the slack before and after the aligned place goes back */
	if (aligned > (uintptr_t)p)
		munmap(p, aligned - (uintptr_t)p);
	if ((uintptr_t)p + span > aligned + len)
		munmap((char *)(aligned + len), (uintptr_t)p + span - (aligned + len));
	return (char *)aligned;
}

int remap_prepare(const struct region *r, size_t page, size_t count, int fixed, struct remap_call *call, char *why,
		  size_t whylen)
{
	memset(call, 0, sizeof(*call));
	call->old = region_page(r, "reg", page);
	call->old_len = count * r->psz;
	if (fixed) {
		call->new_len = call->old_len;
		call->flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		call->dest = reserve(call->old_len, r->psz, why, whylen);
		return call->dest ? 0 : ENOMEM;
	}
	call->new_len = call->old_len + r->psz;
	call->flags = MREMAP_MAYMOVE;
	/* whatever already follows the range (the rest of the region) blocks growing in place too */
	mmap(call->old + call->old_len, r->psz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return 0;
}

void *remap_run(const struct remap_call *call)
{
	return mremap(call->old, call->old_len, call->new_len, call->flags, call->dest);
}

int remap_record(struct region *r, size_t page, size_t count, const struct remap_call *call, char *to)
{
	struct region_move *m;

	if (r->nmoves == REGION_MOVES_MAX)
		return -1;
	m = &r->moves[r->nmoves];
	m->page = page;
	m->count = count;
	m->from = call->old;
	m->to = to;
	m->len = call->old_len;
	return r->nmoves++;
}

void remap_forget(struct region *r, int index)
{
	if (index >= 0 && index == r->nmoves - 1)
		r->nmoves--;
}

int remap_event_pending(int uffd, int wait_ms)
{
	struct pollfd pfd = {.fd = uffd, .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, wait_ms);
	while (n < 0 && errno == EINTR);
	return n > 0;
}
