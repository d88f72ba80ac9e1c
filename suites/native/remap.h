/* The mremap and munmap steps' system calls and the region's record of moved pages. */
#ifndef FAULTLINE_REMAP_H
#define FAULTLINE_REMAP_H

#include <stddef.h>

#include "region.h"

/* One mremap as the step asks it: `fixed` moves the pages to a place the helper reserved
 * (MREMAP_MAYMOVE|MREMAP_FIXED); otherwise MREMAP_MAYMOVE alone with the length grown by one
 * page and the page after the range taken, so the kernel cannot grow it in place and moves it. */
struct remap_call {
	char *old;
	size_t old_len, new_len;
	int flags;
	char *dest; /* with fixed: where it goes */
};

/* Prepares the call for reg's pages [page, page+count): 0, or an errno with why written. */
int remap_prepare(const struct region *r, size_t page, size_t count, int fixed, struct remap_call *call, char *why,
		  size_t whylen);
/* The system call: the new address, or MAP_FAILED with errno set. */
void *remap_run(const struct remap_call *call);
/* Records the move (to NULL while unknown); returns its index, or -1 when the table is full. */
int remap_record(struct region *r, size_t page, size_t count, const struct remap_call *call, char *to);
/* Waits up to wait_ms until a message can be read from uffd, without reading it: 1 or 0. */
int remap_event_pending(int uffd, int wait_ms);
/* Forgets the newest move, for an mremap that failed as expected. */
void remap_forget(struct region *r, int index);

#endif
