/* Plan parsing and validation: lexical rules, the per-op key schema, and the static rules a
 * case must follow (open/map before use, pages in range, threads started before joined). */
#include "plan.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fork.h"

enum kind { K_NUM, K_BYTE, K_BOOL, K_ENUM, K_FLAGS, K_ONE, K_NAME, K_ERRNO, K_RESULT, K_BITS, K_LINE };

struct keyspec {
	const char *key;
	enum kind kind;
	int required;
	const char *choices;              /* K_ENUM: "a|b|c" */
	const struct name_value *table;   /* K_FLAGS, K_ONE */
};

struct opspec {
	const char *op;
	struct keyspec keys[14];
};

static const struct name_value ioctl_modes[] = {{"DONTWAKE", 1}, {"WP", 2}, {NULL, 0}};

#define LINE {"line", K_LINE, 1, NULL, NULL}
#define PAGE {"page", K_NUM, 0, NULL, NULL}
#define COUNT {"count", K_NUM, 0, NULL, NULL}
#define EXPECT {"expect_errno", K_ERRNO, 0, NULL, NULL}
#define TARGET {"target", K_ENUM, 0, "reg|alias", NULL}
#define CHILD {"child", K_NAME, 0, NULL, NULL}
#define UFFD {"uffd", K_NAME, 0, NULL, NULL}

static const struct opspec ops[] = {
	{"open", {LINE, {"features", K_FLAGS, 1, NULL, feature_names}, EXPECT}},
	{"map", {LINE, {"backend", K_ENUM, 1, "anon|shmem|hugetlb", NULL}, {"share", K_ENUM, 0, "shared|private", NULL},
		 {"pages", K_NUM, 1, NULL, NULL}, {"alias", K_BOOL, 0, NULL, NULL}, {"thp", K_BOOL, 0, NULL, NULL}}},
	{"fill", {LINE, {"target", K_ENUM, 1, "reg|alias", NULL}, PAGE, COUNT, {"byte", K_BYTE, 1, NULL, NULL}}},
	{"register", {LINE, PAGE, COUNT, {"modes", K_FLAGS, 1, NULL, register_modes}, EXPECT}},
	{"unregister", {LINE, PAGE, COUNT, EXPECT}},
	{"require_ioctl", {LINE, {"name", K_ONE, 1, NULL, ioctl_numbers}}},
	{"access", {LINE, {"thread", K_NAME, 1, NULL, NULL}, TARGET, {"op", K_ENUM, 1, "read|write", NULL}, PAGE,
		    {"byte", K_BYTE, 0, NULL, NULL}, CHILD}},
	{"join", {LINE, {"thread", K_NAME, 0, NULL, NULL}, {"expect", K_ENUM, 1, "done|sigbus|blocked", NULL},
		  {"wait_ms", K_NUM, 0, NULL, NULL}, {"value", K_BYTE, 0, NULL, NULL}, CHILD}},
	{"event", {LINE, {"type", K_ONE, 1, NULL, event_types}, {"flags", K_FLAGS, 0, NULL, fault_flags}, PAGE, COUNT,
		   {"wait_ms", K_NUM, 0, NULL, NULL}, UFFD, CHILD, {"old", K_BOOL, 0, NULL, NULL}}},
	{"no_event", {LINE, {"wait_ms", K_NUM, 0, NULL, NULL}, UFFD}},
	{"fork", {LINE, {"child", K_NAME, 1, NULL, NULL}}},
	{"ioctl", {LINE, {"op", K_ENUM, 1, "CONTINUE|COPY|ZEROPAGE|WAKE|WRITEPROTECT", NULL}, PAGE, COUNT,
		   {"offset", K_NUM, 0, NULL, NULL}, {"len", K_NUM, 0, NULL, NULL}, {"mode", K_FLAGS, 0, NULL, ioctl_modes},
		   {"mode_raw", K_NUM, 0, NULL, NULL}, {"byte", K_BYTE, 0, NULL, NULL}, EXPECT,
		   {"result", K_RESULT, 0, NULL, NULL}, UFFD}},
	{"madvise", {LINE, TARGET, {"advice", K_ENUM, 1, "DONTNEED|REMOVE|PAGEOUT|HUGEPAGE|NOHUGEPAGE|COLLAPSE", NULL}, PAGE, COUNT,
		     {"thread", K_NAME, 0, NULL, NULL}, EXPECT}},
	{"fallocate", {LINE, {"mode", K_ENUM, 1, "punch|alloc", NULL}, PAGE, COUNT, EXPECT}},
	{"mremap", {LINE, PAGE, COUNT, {"fixed", K_BOOL, 0, NULL, NULL}, {"thread", K_NAME, 0, NULL, NULL}, EXPECT}},
	{"munmap", {LINE, PAGE, COUNT, {"thread", K_NAME, 0, NULL, NULL}, EXPECT}},
	{"check", {LINE, TARGET, PAGE, COUNT, {"byte", K_BYTE, 1, NULL, NULL}, {"wait_ms", K_NUM, 0, NULL, NULL}, CHILD}},
	{"pagemap", {LINE, TARGET, PAGE, COUNT, {"present", K_BITS, 0, NULL, NULL}, {"wp", K_BITS, 0, NULL, NULL}, CHILD}},
	{"require_thp", {LINE, TARGET}},
	{"sleep", {LINE, {"ms", K_NUM, 1, NULL, NULL}}},
	{"raise", {LINE, {"signal", K_ONE, 1, NULL, signal_names}, CHILD}},
};

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "line %d: ", line);

	va_start(ap, fmt);
	vsnprintf(err + n, errlen > (size_t)n ? errlen - n : 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int in_choices(const char *choices, const char *val)
{
	size_t n = strlen(val);

	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, val, n) == 0)
			return 1;
		p += len + (bar ? 1 : 0);
	}
	return 0;
}

static int check_value(const struct keyspec *k, const char *val, char *why, size_t whylen)
{
	uint64_t n;
	char bad[64];

	switch (k->kind) {
	case K_LINE:
	case K_NUM:
		if (number_parse(val, &n) || n > 0x7fffffffULL)
			return snprintf(why, whylen, "'%s' is not a number", val), -1;
		return 0;
	case K_BYTE:
		if (number_parse(val, &n) || n > 255)
			return snprintf(why, whylen, "'%s' is not a byte (0..255)", val), -1;
		return 0;
	case K_BOOL:
		if (strcmp(val, "0") && strcmp(val, "1"))
			return snprintf(why, whylen, "'%s' is not 0 or 1", val), -1;
		return 0;
	case K_ENUM:
		if (!in_choices(k->choices, val))
			return snprintf(why, whylen, "'%s' is not one of %s", val, k->choices), -1;
		return 0;
	case K_FLAGS:
		if (flags_parse(k->table, val, &n, bad, sizeof(bad)))
			return snprintf(why, whylen, "unknown name '%s'", bad), -1;
		return 0;
	case K_ONE:
		if (name_lookup(k->table, val, &n))
			return snprintf(why, whylen, "unknown name '%s'", val), -1;
		return 0;
	case K_NAME:
		if (!valid_name(val))
			return snprintf(why, whylen, "'%s' is not a name ([A-Za-z0-9._-]+)", val), -1;
		return 0;
	case K_ERRNO:
		if (name_lookup(errno_names, val, &n))
			return snprintf(why, whylen, "unknown errno '%s'", val), -1;
		return 0;
	case K_RESULT:
		if (!strcmp(val, "len") || !strcmp(val, "untouched"))
			return 0;
		if (!strncmp(val, "bytes:", 6) && !number_parse(val + 6, &n))
			return 0;
		if (!strncmp(val, "pages:", 6) && !number_parse(val + 6, &n))
			return 0;
		if (!strncmp(val, "errno:", 6) && !name_lookup(errno_names, val + 6, &n))
			return 0;
		return snprintf(why, whylen, "'%s' is not len, untouched, bytes:N, pages:N or errno:NAME", val), -1;
	case K_BITS:
		if (!*val || strspn(val, "01") != strlen(val))
			return snprintf(why, whylen, "'%s' is not a string of 0 and 1", val), -1;
		return 0;
	}
	return 0;
}

const char *step_str(const struct step *s, const char *key)
{
	for (int i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].val;
	return NULL;
}

int step_has(const struct step *s, const char *key)
{
	return step_str(s, key) != NULL;
}

uint64_t step_num(const struct step *s, const char *key, uint64_t dflt)
{
	const char *v = step_str(s, key);
	uint64_t n;

	if (!v || number_parse(v, &n))
		return dflt;
	return n;
}

uint64_t step_flags(const struct step *s, const char *key, const struct name_value *table)
{
	const char *v = step_str(s, key);
	uint64_t n = 0;
	char bad[64];

	if (!v || flags_parse(table, v, &n, bad, sizeof(bad)))
		return 0;
	return n;
}

int step_errno(const struct step *s)
{
	const char *v = step_str(s, "expect_errno");
	uint64_t n = 0;

	if (!v || name_lookup(errno_names, v, &n))
		return 0;
	return (int)n;
}

/* Splits "op k=v k=v" into s; checks keys and values against the op's schema. */
static int parse_step(char *text, int plan_line, struct step *s, char *err, size_t errlen)
{
	const struct opspec *spec = NULL;
	char *save = NULL;
	char *tok = strtok_r(text, " \t", &save);
	char why[160];

	memset(s, 0, sizeof(*s));
	s->plan_line = plan_line;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].op, tok) == 0)
			spec = &ops[i];
	if (!spec)
		return fail(err, errlen, plan_line, "unknown step '%s'", tok);
	snprintf(s->op, sizeof(s->op), "%s", tok);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		const struct keyspec *k = NULL;
		if (!eq || eq == tok)
			return fail(err, errlen, plan_line, "%s: expected key=value, got '%s'", s->op, tok);
		*eq = '\0';
		for (const struct keyspec *p = spec->keys; p->key; p++)
			if (strcmp(p->key, tok) == 0)
				k = p;
		if (!k)
			return fail(err, errlen, plan_line, "%s: unknown key '%s'", s->op, tok);
		if (step_has(s, tok))
			return fail(err, errlen, plan_line, "%s: key '%s' given twice", s->op, tok);
		if (s->nkv == PLAN_MAX_KV || strlen(tok) >= sizeof(s->kv[0].key) || strlen(eq + 1) >= sizeof(s->kv[0].val))
			return fail(err, errlen, plan_line, "%s: key or value too long", s->op);
		if (check_value(k, eq + 1, why, sizeof(why)))
			return fail(err, errlen, plan_line, "%s: %s: %s", s->op, tok, why);
		snprintf(s->kv[s->nkv].key, sizeof(s->kv[0].key), "%s", tok);
		snprintf(s->kv[s->nkv].val, sizeof(s->kv[0].val), "%s", eq + 1);
		s->nkv++;
	}
	for (const struct keyspec *p = spec->keys; p->key; p++)
		if (p->required && !step_has(s, p->key))
			return fail(err, errlen, plan_line, "%s: missing key '%s'", s->op, p->key);
	s->line = (int)step_num(s, "line", 0);
	return 0;
}

/* What the static checks know about a case so far. */
struct case_state {
	int opened, mapped, alias, pages, anon;
	char running[32][72]; /* thread names, "CHILD/THREAD" for a child's */
	int nrunning;
	struct {
		char name[32];
		int joined, has_uffd;
	} children[CHILDREN_MAX];
	int nchildren;
};

static int child_index(const struct case_state *st, const char *name)
{
	for (int i = 0; i < st->nchildren; i++)
		if (!strcmp(st->children[i].name, name))
			return i;
	return -1;
}

/* fork, child= and uffd=: a child is forked once, acted in until it is joined, and its
 * descriptor used only after the FORK event that hands it over. */
static int check_children(const struct step *s, struct case_state *st, char *err, size_t errlen)
{
	const char *op = s->op;
	const char *child = step_str(s, "child");
	const char *uffd = step_str(s, "uffd");
	int L = s->plan_line;
	int i = child ? child_index(st, child) : -1;

	if (!strcmp(op, "fork")) {
		if (i >= 0)
			return fail(err, errlen, L, "fork: child %s was forked before (a name is used once)", child);
		if (st->nchildren == CHILDREN_MAX || strlen(child) >= sizeof(st->children[0].name))
			return fail(err, errlen, L, "fork: at most %d children, names under 32 characters", CHILDREN_MAX);
		snprintf(st->children[st->nchildren++].name, sizeof(st->children[0].name), "%s", child);
		return 0;
	}
	if (child && i < 0)
		return fail(err, errlen, L, "%s: no fork step before it starts child %s", op, child);
	if (child && !strcmp(op, "event")) {
		if (strcmp(step_str(s, "type"), "FORK"))
			return fail(err, errlen, L, "event: child= names the child of a FORK event, not of %s", step_str(s, "type"));
		if (st->children[i].has_uffd)
			return fail(err, errlen, L, "event: child %s already has the descriptor of a FORK event", child);
		st->children[i].has_uffd = 1;
	} else if (child && st->children[i].joined) {
		return fail(err, errlen, L, "%s: child %s was joined before", op, child);
	}
	if (child && !strcmp(op, "join") && !step_has(s, "thread")) {
		if (strcmp(step_str(s, "expect"), "done") || step_has(s, "value"))
			return fail(err, errlen, L, "join: a child is joined with expect=done and no value");
		st->children[i].joined = 1;
	}
	if (uffd) {
		int u = child_index(st, uffd);
		if (u < 0 || !st->children[u].has_uffd)
			return fail(err, errlen, L, "%s: uffd=%s needs an earlier 'event type=FORK child=%s'", op, uffd, uffd);
	}
	return 0;
}

static int thread_running(struct case_state *st, const char *name)
{
	for (int i = 0; i < st->nrunning; i++)
		if (strcmp(st->running[i], name) == 0)
			return i;
	return -1;
}

static int check_step(const struct step *s, struct case_state *st, char *err, size_t errlen)
{
	const char *op = s->op;
	int L = s->plan_line;
	int needs_uffd = !strcmp(op, "register") || !strcmp(op, "unregister") || !strcmp(op, "require_ioctl") ||
			 !strcmp(op, "event") || !strcmp(op, "no_event") || !strcmp(op, "ioctl");
	int needs_map = !strcmp(op, "fill") || !strcmp(op, "register") || !strcmp(op, "unregister") ||
			!strcmp(op, "access") || !strcmp(op, "ioctl") || !strcmp(op, "madvise") ||
			!strcmp(op, "fallocate") || !strcmp(op, "check") || !strcmp(op, "pagemap") || !strcmp(op, "require_thp") ||
			!strcmp(op, "mremap") || !strcmp(op, "munmap");
	const char *target = step_str(s, "target");
	const char *thread = step_str(s, "thread");
	char who[72]; /* the thread's name in the case's namespace: a child's threads are its own */

	if (check_children(s, st, err, errlen))
		return -1;
	if (thread && step_has(s, "child"))
		snprintf(who, sizeof(who), "%s/%s", step_str(s, "child"), thread);
	else
		snprintf(who, sizeof(who), "%s", thread ? thread : "");
	if (!strcmp(op, "open")) {
		if (st->opened)
			return fail(err, errlen, L, "open: a case has at most one userfaultfd");
		st->opened = 1;
	}
	if (!strcmp(op, "map")) {
		if (st->mapped)
			return fail(err, errlen, L, "map: a case has at most one region");
		st->mapped = 1;
		st->pages = (int)step_num(s, "pages", 0);
		st->alias = (int)step_num(s, "alias", 0);
		st->anon = !strcmp(step_str(s, "backend"), "anon");
		if (st->pages < 1)
			return fail(err, errlen, L, "map: pages must be at least 1");
		if (st->anon && st->alias)
			return fail(err, errlen, L, "map: anon memory has no file, so no alias");
		if (step_num(s, "thp", 0) && (strcmp(step_str(s, "backend"), "shmem") || st->pages % 512))
			return fail(err, errlen, L, "map: thp=1 needs backend=shmem and pages a multiple of 512 (2 MiB)");
	}
	if (needs_uffd && !st->opened)
		return fail(err, errlen, L, "%s: no open step before it", op);
	if (needs_map && !st->mapped)
		return fail(err, errlen, L, "%s: no map step before it", op);
	if (target && !strcmp(target, "alias") && !st->alias)
		return fail(err, errlen, L, "%s: target=alias but the map step has no alias=1", op);
	if (needs_map || !strcmp(op, "event")) {
		uint64_t page = step_num(s, "page", 0);
		uint64_t count = step_num(s, "count", 1);
		int whole = (!strcmp(op, "register") || !strcmp(op, "unregister")) && !step_has(s, "page") &&
			    !step_has(s, "count");
		if (!whole && st->mapped && (count < 1 || page + count > (uint64_t)st->pages))
			return fail(err, errlen, L, "%s: pages [%llu, %llu) outside the region's %d pages", op,
				    (unsigned long long)page, (unsigned long long)(page + count), st->pages);
	}
	if (!strcmp(op, "fallocate") && st->anon)
		return fail(err, errlen, L, "fallocate: anon memory has no file");
	if (!strcmp(op, "pagemap") && !step_has(s, "present") && !step_has(s, "wp"))
		return fail(err, errlen, L, "pagemap: missing key 'present' or 'wp'");
	for (int k = 0; k < 2 && !strcmp(op, "pagemap"); k++) {
		const char *bits = step_str(s, k ? "wp" : "present");
		if (bits && strlen(bits) != step_num(s, "count", 1))
			return fail(err, errlen, L, "pagemap: %s has %zu digits for count=%llu", k ? "wp" : "present", strlen(bits),
				    (unsigned long long)step_num(s, "count", 1));
	}
	if (!strcmp(op, "ioctl")) {
		const char *iop = step_str(s, "op");
		uint64_t mode = step_flags(s, "mode", ioctl_modes);
		int has_result = !strcmp(iop, "CONTINUE") || !strcmp(iop, "COPY") || !strcmp(iop, "ZEROPAGE");
		if (step_has(s, "result") && !has_result)
			return fail(err, errlen, L, "ioctl %s has no result field", iop);
		if (!strcmp(iop, "WAKE") && (mode || step_has(s, "mode_raw")))
			return fail(err, errlen, L, "ioctl WAKE takes no mode");
		if (!strcmp(iop, "ZEROPAGE") && (mode & 2))
			return fail(err, errlen, L, "ioctl ZEROPAGE has no WP mode");
	}
	if ((!strcmp(op, "access") || (!strcmp(op, "madvise") && thread) || (!strcmp(op, "mremap") && thread) ||
	     (!strcmp(op, "munmap") && thread))) {
		if (thread_running(st, who) >= 0)
			return fail(err, errlen, L, "%s: thread %s is already running (join it first)", op, thread);
		if (st->nrunning == 32)
			return fail(err, errlen, L, "%s: too many threads", op);
		snprintf(st->running[st->nrunning++], sizeof(st->running[0]), "%s", who);
	}
	if (!strcmp(op, "join") && !thread && !step_has(s, "child"))
		return fail(err, errlen, L, "join: missing key 'thread' or 'child'");
	if (!strcmp(op, "join") && thread) {
		int i = thread_running(st, who);
		if (i < 0)
			return fail(err, errlen, L, "join: no running thread %s", thread);
		if (strcmp(step_str(s, "expect"), "blocked") != 0) {
			memmove(st->running[i], st->running[i + 1], (size_t)(st->nrunning - i - 1) * sizeof(st->running[0]));
			st->nrunning--;
		}
	}
	return 0;
}

static int parse_need(char *text, int plan_line, struct need *n, char *err, size_t errlen)
{
	char *save = NULL;
	char *tok;
	char *eq;
	uint64_t v;
	int maj, min;
	char extra;

	strtok_r(text, " \t", &save);
	tok = strtok_r(NULL, " \t", &save);
	if (!tok || strtok_r(NULL, " \t", &save) || !(eq = strchr(tok, '=')))
		return fail(err, errlen, plan_line, "needs: expected exactly one key=value");
	*eq = '\0';
	memset(n, 0, sizeof(*n));
	if (strlen(tok) >= sizeof(n->key) || strlen(eq + 1) >= sizeof(n->val))
		return fail(err, errlen, plan_line, "needs: key or value too long");
	snprintf(n->key, sizeof(n->key), "%s", tok);
	snprintf(n->val, sizeof(n->val), "%s", eq + 1);
	if (!strcmp(tok, "kernel")) {
		if (sscanf(n->val, "%d.%d%c", &maj, &min, &extra) != 2)
			return fail(err, errlen, plan_line, "needs: kernel: '%s' is not MAJOR.MINOR", n->val);
	} else if (!strcmp(tok, "hugepages")) {
		if (number_parse(n->val, &v))
			return fail(err, errlen, plan_line, "needs: hugepages: '%s' is not a number", n->val);
	} else if (!strcmp(tok, "feature")) {
		if (name_lookup(feature_names, n->val, &v) && number_parse(n->val, &v))
			return fail(err, errlen, plan_line, "needs: feature: unknown name '%s'", n->val);
	} else if (!strcmp(tok, "swap")) {
		if (strcmp(n->val, "1") != 0)
			return fail(err, errlen, plan_line, "needs: swap takes 1");
	} else {
		return fail(err, errlen, plan_line, "needs: unknown key '%s' (kernel, hugepages, feature, swap)", tok);
	}
	return 0;
}

static void *grow(void *p, int n, size_t size)
{
	if ((n & (n - 1)) == 0) {
		p = realloc(p, (size_t)(n ? n * 2 : 1) * size);
		if (!p) {
			perror("faultline-helper: realloc");
			exit(2);
		}
	}
	return p;
}

int plan_load(const char *path, struct plan *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char buf[2048];
	char suite[PLAN_NAME_MAX] = "";
	int lineno = 0, seen_plan = 0, seen_workers = 0;
	struct plan_case *cur = NULL;
	struct case_state st;

	memset(out, 0, sizeof(*out));
	out->workers = 1;
	if (!f) {
		snprintf(err, errlen, "line 0: cannot open: %m");
		return -1;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char word[32] = "", arg[PLAN_NAME_MAX + 8] = "", *p = buf;
		int nf;
		lineno++;
		if (!strchr(buf, '\n') && !feof(f))
			return fclose(f), fail(err, errlen, lineno, "line too long");
		buf[strcspn(buf, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		nf = sscanf(p, "%31s %135s", word, arg);
		if (!seen_plan) {
			if (strcmp(word, "plan") || nf != 2 || strcmp(arg, "1"))
				return fclose(f), fail(err, errlen, lineno, "expected 'plan 1' first");
			seen_plan = 1;
			continue;
		}
		if (!strcmp(word, "workers")) {
			uint64_t n;
			if (suite[0])
				return fclose(f), fail(err, errlen, lineno, "workers: must come before the first suite");
			if (seen_workers)
				return fclose(f), fail(err, errlen, lineno, "workers: given twice");
			if (nf != 2 || number_parse(arg, &n) || n < 1 || n > PLAN_MAX_WORKERS)
				return fclose(f), fail(err, errlen, lineno, "workers: expected 1..%d", PLAN_MAX_WORKERS);
			out->workers = (int)n;
			seen_workers = 1;
		} else if (!strcmp(word, "suite")) {
			if (cur)
				return fclose(f), fail(err, errlen, lineno, "suite inside case %s (missing end)", cur->name);
			if (nf != 2 || !valid_name(arg) || strlen(arg) >= PLAN_NAME_MAX)
				return fclose(f), fail(err, errlen, lineno, "suite: expected a name ([A-Za-z0-9._-]+)");
			snprintf(suite, sizeof(suite), "%s", arg);
		} else if (!strcmp(word, "case")) {
			if (cur)
				return fclose(f), fail(err, errlen, lineno, "case inside case %s (missing end)", cur->name);
			if (!suite[0])
				return fclose(f), fail(err, errlen, lineno, "case before any suite line");
			if (nf != 2 || !valid_name(arg) || strlen(arg) >= PLAN_NAME_MAX)
				return fclose(f), fail(err, errlen, lineno, "case: expected a name ([A-Za-z0-9._-]+)");
			out->cases = grow(out->cases, out->ncases, sizeof(*out->cases));
			cur = &out->cases[out->ncases++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->suite, sizeof(cur->suite), "%s", suite);
			snprintf(cur->name, sizeof(cur->name), "%s", arg);
			cur->plan_line = lineno;
			cur->timeout_ms = 10000;
			memset(&st, 0, sizeof(st));
		} else if (!cur) {
			return fclose(f), fail(err, errlen, lineno, "'%s' outside a case", word);
		} else if (!strcmp(word, "end")) {
			if (cur->cwd[0] && !cur->nargs)
				return fclose(f), fail(err, errlen, lineno, "exec: no arg names the program");
			cur = NULL;
		} else if (!strcmp(word, "timeout_ms")) {
			uint64_t ms;
			if (nf != 2 || number_parse(arg, &ms) || ms == 0 || ms > 3600000)
				return fclose(f), fail(err, errlen, lineno, "timeout_ms: expected 1..3600000");
			cur->timeout_ms = (int)ms;
		} else if (!strcmp(word, "alone")) {
			if (nf != 1 || cur->alone)
				return fclose(f), fail(err, errlen, lineno, "alone: takes no value and is given once");
			cur->alone = 1;
		} else if (!strcmp(word, "exec")) {
			/* the rest of the line, so a directory may be long or hold spaces */
			const char *value = p + 4 + strspn(p + 4, " \t");
			if (cur->nsteps || cur->nargs || cur->cwd[0] || strncmp(value, "cwd=", 4) || !value[4] || strlen(value + 4) >= PLAN_ARG_MAX)
				return fclose(f), fail(err, errlen, lineno, "exec: expected cwd=DIR once, before the args and with no steps");
			snprintf(cur->cwd, sizeof(cur->cwd), "%s", value + 4);
		} else if (!strcmp(word, "arg")) {
			const char *value = p + 3 + strspn(p + 3, " \t");
			if (!cur->cwd[0] || cur->nargs == PLAN_MAX_ARGS || !*value || strlen(value) >= PLAN_ARG_MAX)
				return fclose(f), fail(err, errlen, lineno, "arg: expected a value after exec, at most %d of them", PLAN_MAX_ARGS);
			snprintf(cur->argv[cur->nargs++], PLAN_ARG_MAX, "%s", value);
		} else if (!strcmp(word, "scratch")) {
			const char *value = p + 7 + strspn(p + 7, " \t");
			if (!cur->cwd[0] || cur->scratch[0] || value[0] != '/' || strlen(value) >= PLAN_ARG_MAX)
				return fclose(f), fail(err, errlen, lineno, "scratch: expected one absolute PATH after exec");
			snprintf(cur->scratch, sizeof(cur->scratch), "%s", value);
		} else if (!strcmp(word, "needs")) {
			cur->needs = grow(cur->needs, cur->nneeds, sizeof(*cur->needs));
			if (parse_need(p, lineno, &cur->needs[cur->nneeds], err, errlen))
				return fclose(f), -1;
			cur->nneeds++;
		} else {
			if (cur->cwd[0])
				return fclose(f), fail(err, errlen, lineno, "a program case (exec) has no steps");
			cur->steps = grow(cur->steps, cur->nsteps, sizeof(*cur->steps));
			if (parse_step(p, lineno, &cur->steps[cur->nsteps], err, errlen) ||
			    check_step(&cur->steps[cur->nsteps], &st, err, errlen))
				return fclose(f), -1;
			cur->nsteps++;
		}
	}
	fclose(f);
	if (!seen_plan)
		return fail(err, errlen, lineno, "empty plan (expected 'plan 1')");
	if (cur)
		return fail(err, errlen, cur->plan_line, "case %s has no end", cur->name);
	return 0;
}
