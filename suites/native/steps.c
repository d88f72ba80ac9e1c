/* The plan's steps, executed in order by the case process. Each returns STEP_OK, or STEP_FAIL /
 * STEP_SKIP with the reason written (failures start with "line N: "). */
#define _GNU_SOURCE
#include "case.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "fork.h"
#include "region.h"
#include "remap.h"
#include "threads.h"
#include "uffd.h"

enum { STEP_OK, STEP_FAIL, STEP_SKIP };

/* preset into the ioctl result fields to tell "untouched" from any value the kernel writes */
#define RESULT_SENTINEL ((int64_t)0x5eedf00d5eedf00dLL)

struct ctx {
	struct case_shared *sh;
	const struct plan_case *pc; /* whose task marks a child writes */
	int uffd;
	int mapped;
	struct region r;
	uint64_t ioctls;
};

static int say(struct ctx *c, int rc, const struct step *s, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	if (rc == STEP_FAIL && s)
		n = (size_t)snprintf(c->sh->reason, sizeof(c->sh->reason), "line %d: ", s->line);
	va_start(ap, fmt);
	vsnprintf(c->sh->reason + n, sizeof(c->sh->reason) - n, fmt, ap);
	va_end(ap);
	return rc;
}

/* A step that skips says why: what say() writes then is the reason. */
static int skipping(struct ctx *c, enum skip_cause cause)
{
	c->sh->skip_cause = (int)cause;
	return STEP_SKIP;
}

static const char *errno_or_success(int err)
{
	return err ? errno_name(err) : "success";
}

static void expected_errno(char *buf, size_t len, int err)
{
	if (err)
		snprintf(buf, len, "errno %s", errno_name(err));
	else
		snprintf(buf, len, "success");
}

/* "page 3", "page 3+0x10", or a raw address outside the region */
static const char *where(const struct ctx *c, uint64_t addr, char *buf, size_t len)
{
	uint64_t base = (uint64_t)(uintptr_t)c->r.reg;
	uint64_t size = c->r.pages * c->r.psz;

	for (int i = c->r.nmoves - 1; c->mapped && i >= 0; i--) {
		const struct region_move *m = &c->r.moves[i];
		uint64_t to = (uint64_t)(uintptr_t)m->to, from = (uint64_t)(uintptr_t)m->from;
		if (m->to && addr >= to && addr <= to + m->count * c->r.psz) {
			snprintf(buf, len, "page %" PRIu64 " (moved)", m->page + (addr - to) / c->r.psz);
			return buf;
		}
		if (addr >= from && addr <= from + m->count * c->r.psz) {
			snprintf(buf, len, "page %" PRIu64 "'s place before the mremap", m->page + (addr - from) / c->r.psz);
			return buf;
		}
	}
	if (c->mapped && addr >= base && addr < base + size) {
		uint64_t off = addr - base;
		if (off % c->r.psz)
			snprintf(buf, len, "page %" PRIu64 "+0x%" PRIx64, off / c->r.psz, off % c->r.psz);
		else
			snprintf(buf, len, "page %" PRIu64, off / c->r.psz);
	} else if (c->mapped && addr == base + size) {
		snprintf(buf, len, "page %zu", c->r.pages);
	} else {
		snprintf(buf, len, "address 0x%" PRIx64 " (outside the region)", addr);
	}
	return buf;
}

static void describe_msg(const struct ctx *c, const struct uffd_msg *m, char *buf, size_t len)
{
	const char *type = name_of(event_types, m->event);
	char flags[64], a[80], b[80];

	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		snprintf(buf, len, "PAGEFAULT flags=%s at %s",
			 flags_format(fault_flags, m->arg.pagefault.flags, flags, sizeof(flags)),
			 where(c, m->arg.pagefault.address, a, sizeof(a)));
		break;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		snprintf(buf, len, "%s [%s, %s)", type, where(c, m->arg.remove.start, a, sizeof(a)),
			 where(c, m->arg.remove.end, b, sizeof(b)));
		break;
	case UFFD_EVENT_REMAP:
		snprintf(buf, len, "REMAP from %s to %s len %" PRIu64 " bytes", where(c, m->arg.remap.from, a, sizeof(a)),
			 where(c, m->arg.remap.to, b, sizeof(b)), (uint64_t)m->arg.remap.len);
		break;
	default:
		snprintf(buf, len, "%s", type ? type : "unknown event");
	}
}

static struct uffdio_range step_range(const struct ctx *c, const struct step *s)
{
	struct uffdio_range r;
	uint64_t page = step_num(s, "page", 0);
	uint64_t count = step_num(s, "count", 1);

	if ((!strcmp(s->op, "register") || !strcmp(s->op, "unregister")) && !step_has(s, "page") &&
	    !step_has(s, "count"))
		count = c->r.pages;
	r.start = (uint64_t)(uintptr_t)region_page(&c->r, "reg", page);
	r.len = count * c->r.psz;
	return r;
}

/* The descriptor a step acts through: the case's own, or with uffd=NAME the one the FORK event
 * handed over for child NAME's memory. */
static int uffd_for(const struct ctx *c, const struct step *s)
{
	return step_has(s, "uffd") ? child_uffd(step_str(s, "uffd")) : c->uffd;
}

static int do_open(struct ctx *c, const struct step *s)
{
	uint64_t want = step_flags(s, "features", feature_names);
	int expect = step_errno(s);
	uint64_t have;
	char why[256], exp[48];
	int err;

	if (uffd_probe(&have, why, sizeof(why)))
		return say(c, skipping(c, SKIP_RESOURCE), s, "%s", why);
	if ((want & ~have) && !step_has(s, "expect_errno")) {
		uint64_t missing = want & ~have;
		const char *name = name_of(feature_names, missing & -missing);
		if (!name)
			return say(c, skipping(c, SKIP_FEATURE), s, "kernel lacks uffd feature bits 0x%llx", (unsigned long long)missing);
		return say(c, skipping(c, SKIP_FEATURE), s, "kernel lacks UFFD_FEATURE_%s", name);
	}
	c->uffd = uffd_open(why, sizeof(why));
	if (c->uffd < 0)
		return say(c, skipping(c, SKIP_RESOURCE), s, "%s", why);
	err = uffd_api(c->uffd, want);
	expected_errno(exp, sizeof(exp), expect);
	if (err != expect)
		return say(c, STEP_FAIL, s, "open: UFFDIO_API: expected %s, got %s", exp, errno_or_success(err));
	return STEP_OK;
}

static int do_map(struct ctx *c, const struct step *s)
{
	const char *b = step_str(s, "backend");
	enum backend backend = !strcmp(b, "anon") ? BACKEND_ANON : !strcmp(b, "shmem") ? BACKEND_SHMEM : BACKEND_HUGETLB;
	char why[256];
	/* anon means private anonymous memory unless the plan says otherwise (shared anon is shmem) */
	const char *share = step_has(s, "share") ? step_str(s, "share") : backend == BACKEND_ANON ? "private" : "shared";
	int rc = region_map(&c->r, backend, !strcmp(share, "shared"), step_num(s, "pages", 1),
			    (int)step_num(s, "alias", 0), (int)step_num(s, "thp", 0), why, sizeof(why));

	if (rc > 0)
		return say(c, skipping(c, SKIP_FEATURE), s, "%s", why);
	if (rc < 0)
		return say(c, STEP_FAIL, s, "map %s: %s", b, why);
	c->mapped = 1;
	return STEP_OK;
}

static int do_fill(struct ctx *c, const struct step *s)
{
	memset(region_page(&c->r, step_str(s, "target"), step_num(s, "page", 0)), (int)step_num(s, "byte", 0),
	       step_num(s, "count", 1) * c->r.psz);
	return STEP_OK;
}

static int do_register(struct ctx *c, const struct step *s, int reg)
{
	struct uffdio_register ur = {.range = step_range(c, s)};
	int expect = step_errno(s);
	int err;
	char exp[48], modes[64] = "";

	if (reg) {
		ur.mode = step_flags(s, "modes", register_modes);
		ur.ioctls = 0;
		flags_format(register_modes, ur.mode, modes, sizeof(modes));
		err = ioctl(c->uffd, UFFDIO_REGISTER, &ur) == 0 ? 0 : errno;
		if (!err)
			c->ioctls = ur.ioctls;
	} else {
		err = ioctl(c->uffd, UFFDIO_UNREGISTER, &ur.range) == 0 ? 0 : errno;
	}
	expected_errno(exp, sizeof(exp), expect);
	if (err != expect)
		return say(c, STEP_FAIL, s, "%s%s%s: expected %s, got %s", s->op, reg ? " " : "", modes, exp,
			   errno_or_success(err));
	return STEP_OK;
}

static int do_require_ioctl(struct ctx *c, const struct step *s)
{
	uint64_t nr = 0;

	name_lookup(ioctl_numbers, step_str(s, "name"), &nr);
	if (!(c->ioctls & ((uint64_t)1 << nr)))
		return say(c, skipping(c, SKIP_FEATURE), s, "range does not support UFFDIO_%s", step_str(s, "name"));
	return STEP_OK;
}

static long meminfo_kb(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(field);
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':' && sscanf(line + n + 1, "%ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* The target mapping holds a transparent huge page mapped by a PMD, or the case skips: the
 * kernel may fall back to small pages (THP disabled, or no free 2 MiB block). */
static int do_require_thp(struct ctx *c, const struct step *s)
{
	const char *target = step_has(s, "target") ? step_str(s, "target") : "reg";
	long kb = region_pmd_mapped_kb(region_page(&c->r, target, 0));

	if (kb < 0)
		return say(c, skipping(c, SKIP_FEATURE), s, "no ShmemPmdMapped in /proc/self/smaps: cannot tell whether a huge page backs %s",
			   target);
	if (kb < 2048)
		return say(c, skipping(c, SKIP_FEATURE), s, "the kernel backed %s with small pages (ShmemPmdMapped: %ld kB, ShmemHugePages: %ld kB), not a transparent huge page",
			   target, kb, meminfo_kb("ShmemHugePages"));
	return STEP_OK;
}

static int start_thread(struct ctx *c, const struct step *s, struct fthread *t)
{
	int err = thread_start(t);

	if (err) {
		thread_release(t);
		return say(c, STEP_FAIL, s, "%s: pthread_create: %s", s->op, strerror(err));
	}
	return STEP_OK;
}

/* A call that blocks until the monitor reads its event (munmap, madvise) runs in thread T, joined later. */
static int start_call_thread(struct ctx *c, const struct step *s, int work, char *addr, size_t len, int advice, int expect)
{
	struct fthread *t = thread_slot(step_str(s, "thread"), 1);

	if (!t)
		return say(c, STEP_FAIL, s, "%s: too many threads", s->op);
	t->work = work;
	t->addr = addr;
	t->len = len;
	t->advice = advice;
	t->expect_err = expect;
	t->step_line = s->line;
	return start_thread(c, s, t);
}

static int do_access(struct ctx *c, const struct step *s)
{
	struct fthread *t = thread_slot(step_str(s, "thread"), 1);

	if (!t)
		return say(c, STEP_FAIL, s, "access: too many threads");
	t->work = !strcmp(step_str(s, "op"), "read") ? WORK_READ : WORK_WRITE;
	t->addr = region_page(&c->r, step_str(s, "target"), step_num(s, "page", 0));
	t->len = c->r.psz;
	t->byte = (int)step_num(s, "byte", 0);
	t->step_line = s->line;
	return start_thread(c, s, t);
}

static int value_check(struct ctx *c, const struct step *s, const char *what, const struct fthread *t, int want,
		       size_t first_page)
{
	int got = 0;
	long off = thread_value_mismatch(t, want, &got);

	if (off < 0)
		return STEP_OK;
	return say(c, STEP_FAIL, s, "%s: expected every byte 0x%02x, found 0x%02x at page %zu offset %ld", what, want,
		   got, first_page + (size_t)off / c->r.psz, off % (long)c->r.psz);
}

/* After an mremap (err its errno, as the step expected): where the pages went, checked against
 * what a REMAP event already said. */
static int remap_settle(struct ctx *c, int line, int move, int err, char *moved_to, int fixed)
{
	struct region_move *m = &c->r.moves[move];
	char a[80], b[80];

	if (err) {
		remap_forget(&c->r, move);
		return STEP_OK;
	}
	if (!m->to) {
		m->to = moved_to;
		return STEP_OK;
	}
	if (m->to == moved_to)
		return STEP_OK;
	snprintf(a, sizeof(a), "0x%" PRIx64, (uint64_t)(uintptr_t)moved_to);
	snprintf(b, sizeof(b), "0x%" PRIx64, (uint64_t)(uintptr_t)m->to);
	m->to = moved_to;
	return say(c, STEP_FAIL, NULL, "line %d: mremap returned %s, but %s %s", line, a,
		   fixed ? "it was asked to move the pages to" : "the REMAP event said they went to", b);
}

/* A REMAP message against the newest mremap: from its old place, to its new one (filled in
 * here when a MAYMOVE-only mremap has not returned yet), its old length. */
static int remap_event_check(struct ctx *c, const struct step *s, const struct uffd_msg *msg, const char *got)
{
	struct region_move *m = &c->r.moves[c->r.nmoves - 1];
	char from[80], to[80];

	if (!m->to && msg->arg.remap.from == (uint64_t)(uintptr_t)m->from && msg->arg.remap.len == m->len)
		m->to = (char *)(uintptr_t)msg->arg.remap.to;
	if (msg->arg.remap.from == (uint64_t)(uintptr_t)m->from && msg->arg.remap.to == (uint64_t)(uintptr_t)m->to &&
	    msg->arg.remap.len == m->len)
		return STEP_OK;
	where(c, (uint64_t)(uintptr_t)m->from, from, sizeof(from));
	if (m->to)
		where(c, (uint64_t)(uintptr_t)m->to, to, sizeof(to));
	else
		snprintf(to, sizeof(to), "where the mremap moves it");
	return say(c, STEP_FAIL, s, "event: expected REMAP from %s to %s len %zu bytes, got %s", from, to, m->len, got);
}

static int do_mremap(struct ctx *c, const struct step *s)
{
	size_t page = step_num(s, "page", 0), count = step_num(s, "count", 1);
	int fixed = (int)step_num(s, "fixed", 1);
	int expect = step_errno(s);
	struct remap_call call;
	char why[200], exp[48];
	void *to;
	int err, move;

	if ((err = remap_prepare(&c->r, page, count, fixed, &call, why, sizeof(why))))
		return say(c, STEP_FAIL, s, "mremap: %s", why);
	if (step_has(s, "thread")) {
		struct fthread *t = thread_slot(step_str(s, "thread"), 1);
		if (!t)
			return say(c, STEP_FAIL, s, "mremap: too many threads");
		t->move = remap_record(&c->r, page, count, &call, call.dest);
		if (t->move < 0) {
			thread_release(t);
			return say(c, STEP_FAIL, s, "mremap: more than %d moves in one case", REGION_MOVES_MAX);
		}
		t->work = WORK_MREMAP;
		t->remap = call;
		t->expect_err = expect;
		t->step_line = s->line;
		return start_thread(c, s, t);
	}
	to = remap_run(&call);
	err = to == MAP_FAILED ? errno : 0;
	expected_errno(exp, sizeof(exp), expect);
	if (err != expect)
		return say(c, STEP_FAIL, s, "mremap: expected %s, got %s", exp, errno_or_success(err));
	if (err)
		return STEP_OK;
	move = remap_record(&c->r, page, count, &call, call.dest);
	if (move < 0)
		return say(c, STEP_FAIL, s, "mremap: more than %d moves in one case", REGION_MOVES_MAX);
	return remap_settle(c, s->line, move, 0, to, fixed);
}

static int do_munmap(struct ctx *c, const struct step *s)
{
	char *addr = region_page(&c->r, "reg", step_num(s, "page", 0));
	size_t len = step_num(s, "count", 1) * c->r.psz;
	int expect = step_errno(s);
	char exp[48];
	int err;

	if (step_has(s, "thread"))
		return start_call_thread(c, s, WORK_MUNMAP, addr, len, 0, expect);
	err = munmap(addr, len) == 0 ? 0 : errno;
	expected_errno(exp, sizeof(exp), expect);
	if (err != expect)
		return say(c, STEP_FAIL, s, "munmap: expected %s, got %s", exp, errno_or_success(err));
	return STEP_OK;
}

static int do_join(struct ctx *c, const struct step *s)
{
	const char *name = step_str(s, "thread");
	const char *expect = step_str(s, "expect");
	struct fthread *t = thread_slot(name, 0);
	int blocked = !strcmp(expect, "blocked");
	int wait_ms = (int)step_num(s, "wait_ms", blocked ? 200 : 2000);
	char what[64], a[80];
	/* an mremap or munmap blocks on its event: wait until that event is there to read, so the
	 * steps after the join see the kernel's state while it waits (mmap_changing raised) */
	int pending = blocked && t && (t->work == WORK_MREMAP || t->work == WORK_MUNMAP) && c->uffd >= 0 ? remap_event_pending(c->uffd, wait_ms) : -1;
	int finished = thread_wait(t, pending >= 0 ? 0 : wait_ms);
	int rc = STEP_OK;

	snprintf(what, sizeof(what), "join %s", name);
	if (blocked) {
		if (!finished && pending == 0)
			return say(c, STEP_FAIL, s, "%s: blocked, but no event is pending on the userfaultfd after %dms", what, wait_ms);
		if (!finished)
			return STEP_OK;
		rc = say(c, STEP_FAIL, s, "%s: expected blocked, but it finished%s within %dms", what,
			 t->sigbus ? " with SIGBUS" : "", wait_ms);
	} else if (!finished) {
		return say(c, STEP_FAIL, s, "%s: expected %s, still blocked after %dms", what,
			   !strcmp(expect, "sigbus") ? "SIGBUS" : "done", wait_ms);
	} else if (!strcmp(expect, "sigbus")) {
		if (!t->sigbus)
			rc = say(c, STEP_FAIL, s, "%s: expected SIGBUS, finished without one", what);
	} else if (t->sigbus) {
		rc = say(c, STEP_FAIL, s, "%s: expected done, got SIGBUS at %s", what,
			 where(c, (uint64_t)(uintptr_t)t->sigbus_addr, a, sizeof(a)));
	} else if ((t->work == WORK_MADVISE || t->work == WORK_MREMAP || t->work == WORK_MUNMAP) && t->err != t->expect_err) {
		char exp[48];
		expected_errno(exp, sizeof(exp), t->expect_err);
		rc = say(c, STEP_FAIL, NULL, "line %d: %s (thread %s): expected %s, got %s", t->step_line,
			 t->work == WORK_MADVISE ? "madvise" : t->work == WORK_MREMAP ? "mremap" : "munmap", name, exp,
			 errno_or_success(t->err));
	} else if (t->work == WORK_MREMAP) {
		rc = remap_settle(c, t->step_line, t->move, t->err, t->moved_to, !!(t->remap.flags & MREMAP_FIXED));
	} else if (step_has(s, "value") && (t->work == WORK_READ || t->work == WORK_WRITE)) {
		size_t page = (size_t)((t->addr - (t->addr >= c->r.reg && t->addr < c->r.reg + c->r.pages * c->r.psz
							? c->r.reg : c->r.alias)) / (long)c->r.psz);
		rc = value_check(c, s, what, t, (int)step_num(s, "value", 0), page);
	}
	thread_release(t);
	return rc;
}

static int do_event(struct ctx *c, const struct step *s)
{
	const char *type = step_str(s, "type");
	int wait_ms = (int)step_num(s, "wait_ms", 2000);
	uint64_t want_type = 0;
	struct uffd_msg m;
	char got[200], exp[64], a[80];
	int n;

	name_lookup(event_types, type, &want_type);
	memset(&m, 0, sizeof(m));
	n = uffd_read_msg(uffd_for(c, s), wait_ms, &m);
	if (n < 0)
		return say(c, STEP_FAIL, s, "event: read: %s", strerror(errno));
	if (n == 0)
		return say(c, STEP_FAIL, s, "event: expected %s, none within %dms", type, wait_ms);
	describe_msg(c, &m, got, sizeof(got));
	if (m.event != want_type)
		return say(c, STEP_FAIL, s, "event: expected %s, got %s", type, got);
	/* the new descriptor watches the child's memory: kept as child=NAME's, else closed */
	if (m.event == UFFD_EVENT_FORK && step_has(s, "child"))
		child_set_uffd(step_str(s, "child"), (int)m.arg.fork.ufd);
	else if (m.event == UFFD_EVENT_FORK)
		close((int)m.arg.fork.ufd);
	if (m.event == UFFD_EVENT_PAGEFAULT) {
		uint64_t flags = step_flags(s, "flags", fault_flags);
		uint64_t start = (uint64_t)(uintptr_t)region_page(&c->r, "reg", step_num(s, "page", 0));
		if (step_has(s, "flags") && m.arg.pagefault.flags != flags)
			return say(c, STEP_FAIL, s, "event: expected PAGEFAULT flags=%s, got %s", 
				   flags_format(fault_flags, flags, exp, sizeof(exp)), got);
		if (step_has(s, "page") &&
		    (m.arg.pagefault.address < start || m.arg.pagefault.address >= start + c->r.psz))
			return say(c, STEP_FAIL, s, "event: expected PAGEFAULT at page %" PRIu64 ", got %s",
				   step_num(s, "page", 0), got);
	} else if (m.event == UFFD_EVENT_REMAP && c->r.nmoves > 0) {
		return remap_event_check(c, s, &m, got);
	} else if ((m.event == UFFD_EVENT_REMOVE || m.event == UFFD_EVENT_UNMAP) && step_has(s, "page")) {
		struct uffdio_range r = step_range(c, s);
		const struct region_move *moved = region_move_of(&c->r, step_num(s, "page", 0));
		char end[80];
		/* old=1: the range where an mremap took the pages from (the UNMAP it sends) */
		if (step_num(s, "old", 0) && moved)
			r.start = (uint64_t)(uintptr_t)moved->from + (step_num(s, "page", 0) - moved->page) * c->r.psz;
		if (m.arg.remove.start != r.start || m.arg.remove.end != r.start + r.len)
			return say(c, STEP_FAIL, s, "event: expected %s [%s, %s), got %s", type, where(c, r.start, a, sizeof(a)),
				   where(c, r.start + r.len, end, sizeof(end)), got);
	}
	return STEP_OK;
}

static int do_no_event(struct ctx *c, const struct step *s)
{
	int wait_ms = (int)step_num(s, "wait_ms", 200);
	struct uffd_msg m;
	char got[200];
	int n = uffd_read_msg(uffd_for(c, s), wait_ms, &m);

	if (n < 0)
		return say(c, STEP_FAIL, s, "no_event: read: %s", strerror(errno));
	if (n == 0)
		return STEP_OK;
	describe_msg(c, &m, got, sizeof(got));
	return say(c, STEP_FAIL, s, "no_event: got %s within %dms", got, wait_ms);
}

static const char *result_text(int64_t v, char *buf, size_t len)
{
	if (v == RESULT_SENTINEL)
		snprintf(buf, len, "untouched");
	else if (v < 0 && name_of(errno_names, (uint64_t)-v))
		snprintf(buf, len, "%" PRId64 " (-%s)", v, errno_name((int)-v));
	else
		snprintf(buf, len, "%" PRId64, v);
	return buf;
}

/* The value `result=` asks for, given the ioctl's length */
static int64_t result_wanted(const struct ctx *c, const char *spec, uint64_t len)
{
	uint64_t n = 0;

	if (!strcmp(spec, "len"))
		return (int64_t)len;
	if (!strcmp(spec, "untouched"))
		return RESULT_SENTINEL;
	if (!strncmp(spec, "bytes:", 6))
		return number_parse(spec + 6, &n), (int64_t)n;
	if (!strncmp(spec, "pages:", 6))
		return number_parse(spec + 6, &n), (int64_t)(n * c->r.psz);
	name_lookup(errno_names, spec + 6, &n);
	return -(int64_t)n;
}

static int do_ioctl(struct ctx *c, const struct step *s)
{
	const char *op = step_str(s, "op");
	struct uffdio_range range = step_range(c, s);
	uint64_t names = step_flags(s, "mode", (const struct name_value[]){{"DONTWAKE", 1}, {"WP", 2}, {NULL, 0}});
	uint64_t mode = step_num(s, "mode_raw", 0);
	int expect = step_errno(s);
	int64_t result = RESULT_SENTINEL;
	const char *field = NULL;
	char exp[48], rbuf[48], rbuf2[48];
	int err;

	range.start += step_num(s, "offset", 0);
	if (step_has(s, "len"))
		range.len = step_num(s, "len", 0);
	if (!strcmp(op, "WRITEPROTECT")) {
		mode |= (names & 2 ? UFFDIO_WRITEPROTECT_MODE_WP : 0) | (names & 1 ? UFFDIO_WRITEPROTECT_MODE_DONTWAKE : 0);
	} else {
		mode |= (names & 1 ? UFFDIO_COPY_MODE_DONTWAKE : 0) | (names & 2 ? UFFDIO_CONTINUE_MODE_WP : 0);
	}

	if (!strcmp(op, "CONTINUE")) {
		struct uffdio_continue a = {.range = range, .mode = mode, .mapped = RESULT_SENTINEL};
		err = ioctl(uffd_for(c, s), UFFDIO_CONTINUE, &a) == 0 ? 0 : errno;
		result = a.mapped;
		field = "mapped";
	} else if (!strcmp(op, "COPY")) {
		size_t srclen = range.len > c->r.psz ? (range.len + c->r.psz - 1) / c->r.psz * c->r.psz : c->r.psz;
		char *src = mmap(NULL, srclen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct uffdio_copy a = {.dst = range.start, .len = range.len, .mode = mode, .copy = RESULT_SENTINEL};
		if (src == MAP_FAILED)
			return say(c, STEP_FAIL, s, "ioctl COPY: source buffer: %s", strerror(errno));
		memset(src, (int)step_num(s, "byte", 0), srclen);
		a.src = (uint64_t)(uintptr_t)src;
		err = ioctl(uffd_for(c, s), UFFDIO_COPY, &a) == 0 ? 0 : errno;
		result = a.copy;
		field = "copy";
		munmap(src, srclen);
	} else if (!strcmp(op, "ZEROPAGE")) {
		struct uffdio_zeropage a = {.range = range, .mode = mode, .zeropage = RESULT_SENTINEL};
		err = ioctl(uffd_for(c, s), UFFDIO_ZEROPAGE, &a) == 0 ? 0 : errno;
		result = a.zeropage;
		field = "zeropage";
	} else if (!strcmp(op, "WAKE")) {
		err = ioctl(uffd_for(c, s), UFFDIO_WAKE, &range) == 0 ? 0 : errno;
	} else {
		struct uffdio_writeprotect a = {.range = range, .mode = mode};
		err = ioctl(uffd_for(c, s), UFFDIO_WRITEPROTECT, &a) == 0 ? 0 : errno;
	}

	expected_errno(exp, sizeof(exp), expect);
	if (err != expect) {
		if (field)
			return say(c, STEP_FAIL, s, "ioctl %s: expected %s, got %s (%s=%s)", op, exp, errno_or_success(err),
				   field, result_text(result, rbuf, sizeof(rbuf)));
		return say(c, STEP_FAIL, s, "ioctl %s: expected %s, got %s", op, exp, errno_or_success(err));
	}
	if (step_has(s, "result")) {
		int64_t want = result_wanted(c, step_str(s, "result"), range.len);
		if (result != want)
			return say(c, STEP_FAIL, s, "ioctl %s: expected %s=%s for %s, got %s=%s", op, field,
				   result_text(want, rbuf, sizeof(rbuf)), step_str(s, "result"), field,
				   result_text(result, rbuf2, sizeof(rbuf2)));
	}
	return STEP_OK;
}

static int advice_of(const char *name)
{
	return !strcmp(name, "DONTNEED") ? MADV_DONTNEED : !strcmp(name, "REMOVE") ? MADV_REMOVE
	     : !strcmp(name, "HUGEPAGE") ? MADV_HUGEPAGE : !strcmp(name, "NOHUGEPAGE") ? MADV_NOHUGEPAGE
	     : !strcmp(name, "COLLAPSE") ? MADV_COLLAPSE : MADV_PAGEOUT;
}

static int do_madvise(struct ctx *c, const struct step *s)
{
	const char *advice = step_str(s, "advice");
	char *addr = region_page(&c->r, step_str(s, "target"), step_num(s, "page", 0));
	size_t len = step_num(s, "count", 1) * c->r.psz;
	int expect = step_errno(s);
	char exp[48];
	int err;

	if (step_has(s, "thread"))
		return start_call_thread(c, s, WORK_MADVISE, addr, len, advice_of(advice), expect);
	err = madvise(addr, len, advice_of(advice)) == 0 ? 0 : errno;
	expected_errno(exp, sizeof(exp), expect);
	if (err != expect)
		return say(c, STEP_FAIL, s, "madvise %s: expected %s, got %s", advice, exp, errno_or_success(err));
	return STEP_OK;
}

static int do_fallocate(struct ctx *c, const struct step *s)
{
	int punch = !strcmp(step_str(s, "mode"), "punch");
	off_t off = (off_t)(step_num(s, "page", 0) * c->r.psz);
	off_t len = (off_t)(step_num(s, "count", 1) * c->r.psz);
	int expect = step_errno(s);
	char exp[48];
	int err = fallocate(c->r.fd, punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : 0, off, len) == 0 ? 0 : errno;

	expected_errno(exp, sizeof(exp), expect);
	if (err != expect)
		return say(c, STEP_FAIL, s, "fallocate %s: expected %s, got %s", step_str(s, "mode"), exp,
			   errno_or_success(err));
	return STEP_OK;
}

static int do_check(struct ctx *c, const struct step *s)
{
	const char *target = step_str(s, "target") ? step_str(s, "target") : "reg";
	size_t page = step_num(s, "page", 0);
	struct fthread *t = thread_slot("(check)", 1);
	int wait_ms = (int)step_num(s, "wait_ms", 1000);
	char what[64], a[80];
	int rc;

	snprintf(what, sizeof(what), "check %s", target);
	if (!t)
		return say(c, STEP_FAIL, s, "check: too many threads");
	t->work = WORK_READ;
	t->addr = region_page(&c->r, target, page);
	t->len = step_num(s, "count", 1) * c->r.psz;
	t->step_line = s->line;
	if ((rc = start_thread(c, s, t)) != STEP_OK)
		return rc;
	if (!thread_wait(t, wait_ms))
		return say(c, STEP_FAIL, s, "%s: the read blocked for %dms (a fault nobody resolved)", what, wait_ms);
	if (t->sigbus)
		rc = say(c, STEP_FAIL, s, "%s: the read got SIGBUS at %s", what,
			 where(c, (uint64_t)(uintptr_t)t->sigbus_addr, a, sizeof(a)));
	else
		rc = value_check(c, s, what, t, (int)step_num(s, "byte", 0), page);
	thread_release(t);
	return rc;
}

/* A pagemap entry's bits, one character per page: present (63) and uffd-wp (57). */
static void pagemap_bits(uint64_t entry, size_t i, char *present, char *wp)
{
	present[i] = (entry >> 63) & 1 ? '1' : '0';
	wp[i] = (entry >> 57) & 1 ? '1' : '0';
	present[i + 1] = wp[i + 1] = '\0';
}

static int do_pagemap(struct ctx *c, const struct step *s)
{
	const char *want_present = step_str(s, "present");
	const char *want_wp = step_str(s, "wp");
	size_t page = step_num(s, "page", 0);
	size_t count = step_num(s, "count", 1);
	char present[128] = "", wp[128] = "";
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return say(c, STEP_FAIL, s, "pagemap: open /proc/self/pagemap: %s", strerror(errno));
	for (size_t i = 0; i < count && i < sizeof(present) - 1; i++) {
		uint64_t addr = (uint64_t)(uintptr_t)region_page(&c->r, step_str(s, "target"), page + i);
		uint64_t entry = 0;
		if (pread(fd, &entry, sizeof(entry), (off_t)(addr / 4096 * sizeof(entry))) != sizeof(entry)) {
			close(fd);
			return say(c, STEP_FAIL, s, "pagemap: read: %s", strerror(errno));
		}
		pagemap_bits(entry, i, present, wp);
	}
	close(fd);
	if (want_present && strcmp(present, want_present) != 0)
		return say(c, STEP_FAIL, s, "pagemap: expected present=%s, got present=%s (wp=%s)", want_present, present, wp);
	if (want_wp && strcmp(wp, want_wp) != 0)
		return say(c, STEP_FAIL, s, "pagemap: expected wp=%s, got wp=%s (present=%s)", want_wp, wp, present);
	return STEP_OK;
}

static int do_sleep(const struct step *s)
{
	uint64_t ms = step_num(s, "ms", 0);
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return STEP_OK;
}

static int do_raise(const struct step *s)
{
	uint64_t sig = 0;

	name_lookup(signal_names, step_str(s, "signal"), &sig);
	signal((int)sig, SIG_DFL);
	raise((int)sig);
	return STEP_OK;
}

static int run_step(struct ctx *c, const struct step *s);

/* In the child: one step the case process sent, run on the child's copy of the case's state,
 * its verdict written to the child's own buffer (the shared one belongs to the case process). */
static void serve_in_child(void *arg, const struct step *s, struct child_reply *out)
{
	static struct case_shared own;
	struct ctx c = *(const struct ctx *)arg;

	memset(&own, 0, sizeof(own));
	c.sh = &own;
	out->rc = run_step(&c, s);
	out->skip_cause = own.skip_cause;
	snprintf(out->reason, sizeof(out->reason), "%s", own.reason);
}

static int do_fork(struct ctx *c, const struct step *s)
{
	char why[256];

	if (child_fork(c->pc, step_str(s, "child"), serve_in_child, c, why, sizeof(why)))
		return say(c, STEP_FAIL, s, "%s", why);
	return STEP_OK;
}

/* How long the case process waits for a child's answer: the step's own wait, and then some. */
static int child_wait_ms(const struct step *s)
{
	return (int)step_num(s, "wait_ms", 2000) + 10000;
}

/* A step with child=NAME: the child runs it; its verdict is the step's, its message named. */
static int do_in_child(struct ctx *c, const struct step *s)
{
	const char *name = step_str(s, "child");
	struct child_reply r;
	char why[256];
	int at = 0;

	if (child_run(name, s, child_wait_ms(s), &r, why, sizeof(why)))
		return say(c, STEP_FAIL, s, "%s: %s", s->op, why);
	if (r.rc == STEP_OK)
		return STEP_OK;
	if (r.rc == STEP_SKIP) {
		c->sh->skip_cause = r.skip_cause;
		return say(c, STEP_SKIP, s, "child %s: %s", name, r.reason);
	}
	sscanf(r.reason, "line %*d: %n", &at);
	return say(c, STEP_FAIL, s, "child %s: %s", name, r.reason + at);
}

/* The child exits when told to; how it ended otherwise (a signal, a status) is the failure. */
static int do_join_child(struct ctx *c, const struct step *s)
{
	const char *name = step_str(s, "child");
	int sig = 0;
	char why[256];

	if (child_join(name, (int)step_num(s, "wait_ms", 2000), &sig, why, sizeof(why)))
		return say(c, STEP_FAIL, s, "join %s: expected done, %s", name, why);
	return STEP_OK;
}

static int run_step(struct ctx *c, const struct step *s)
{
	const char *op = s->op;

	if (!strcmp(op, "fork"))
		return do_fork(c, s);
	if (!strcmp(op, "join") && step_has(s, "child") && !step_has(s, "thread"))
		return do_join_child(c, s);
	/* FORK's child= names whose descriptor it hands over; every other child= runs there */
	if (step_has(s, "child") && strcmp(op, "event") && !child_self())
		return do_in_child(c, s);
	if (!strcmp(op, "open"))
		return do_open(c, s);
	if (!strcmp(op, "map"))
		return do_map(c, s);
	if (!strcmp(op, "fill"))
		return do_fill(c, s);
	if (!strcmp(op, "register"))
		return do_register(c, s, 1);
	if (!strcmp(op, "unregister"))
		return do_register(c, s, 0);
	if (!strcmp(op, "require_ioctl"))
		return do_require_ioctl(c, s);
	if (!strcmp(op, "require_thp"))
		return do_require_thp(c, s);
	if (!strcmp(op, "access"))
		return do_access(c, s);
	if (!strcmp(op, "join"))
		return do_join(c, s);
	if (!strcmp(op, "event"))
		return do_event(c, s);
	if (!strcmp(op, "no_event"))
		return do_no_event(c, s);
	if (!strcmp(op, "ioctl"))
		return do_ioctl(c, s);
	if (!strcmp(op, "madvise"))
		return do_madvise(c, s);
	if (!strcmp(op, "fallocate"))
		return do_fallocate(c, s);
	if (!strcmp(op, "mremap"))
		return do_mremap(c, s);
	if (!strcmp(op, "munmap"))
		return do_munmap(c, s);
	if (!strcmp(op, "check"))
		return do_check(c, s);
	if (!strcmp(op, "pagemap"))
		return do_pagemap(c, s);
	if (!strcmp(op, "sleep"))
		return do_sleep(s);
	if (!strcmp(op, "raise"))
		return do_raise(s);
	return say(c, STEP_FAIL, s, "%s: unknown step", op);
}

enum outcome case_execute(const struct plan_case *pc, struct case_shared *sh)
{
	struct ctx c = {.sh = sh, .pc = pc, .uffd = -1};

	threads_init(pc);
	for (int i = 0; i < pc->nsteps; i++) {
		const struct step *s = &pc->steps[i];
		int rc;
		sh->line = s->line;
		snprintf(sh->op, sizeof(sh->op), "%s", s->op);
		rc = run_step(&c, s);
		if (rc == STEP_FAIL)
			return OUTCOME_FAIL;
		if (rc == STEP_SKIP)
			return OUTCOME_SKIP;
	}
	return OUTCOME_PASS;
}
