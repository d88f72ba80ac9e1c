/* Running one case: its needs, its process (a forked case process, or a program in a process
 * group of its own), its timeout, how it ended, its kernel-log marks and its TAP point. The
 * scheduler (sched.c) keeps several running at once and advances each without blocking. */
#ifndef FAULTLINE_RUNNER_H
#define FAULTLINE_RUNNER_H

#include <sys/types.h>

#include "case.h"
#include "plan.h"
#include "tap.h"

/* Runs every case; returns 0 when all passed or skipped, else 1. */
int run_plan(const struct plan *p);

/* `faultline: case <suite>/<case> task <PID>` on /dev/kmsg (best effort): a task of c, by the
 * kernel's pid a report names it by. */
void mark_task(const struct plan_case *c, long pid);

/* A program's output as the helper keeps it: all of it up to a bound, and how much it dropped. */
struct capture {
	const struct plan_case *c; /* whose output it is: each echoed line names it */
	unsigned char *buf;
	size_t len, cap, dropped;
	char line[400];
	size_t linelen;
	size_t shown; /* of line, the bytes already echoed */
	int echoed;
	int eof;
};

/* A program case names at most this many tasks: a fork bomb must not flood the console. */
#define PROGRAM_TASKS_MAX 256

enum run_state {
	RUN_ACTIVE,   /* started, not yet ended */
	RUN_KILLING,  /* SIGKILL sent: waits up to 2 s for it to die */
	RUN_DRAINING, /* a program that ended: what it printed last */
	RUN_ENDED,
};

enum run_kill { KILLED_NONE, KILLED_TIMEOUT, KILLED_LEADER_DIED };

struct running_case {
	const struct plan_case *c;
	enum run_state state;
	pid_t pid; /* the case process, or the program (and its process group) */
	long start, deadline;
	long killed_at, leader_dead_since, drain_until, quiet_since;
	enum run_kill killed;
	int status, reaped, unkillable, begun;
	char failed[128];        /* why it could not start, if it could not */
	struct case_shared *sh;  /* a case of steps: what its process reports */
	int fd;                  /* a program: its output, -1 when not read */
	struct capture cap;
	int nnamed;
	pid_t named[PROGRAM_TASKS_MAX];
};

/* Writes c's begin mark and starts it; returns 0, or -1 when it could not start (then
 * case_finish reports why). */
int case_start(struct running_case *r, const struct plan_case *c);
/* What a stopped helper kills with SIGKILL: the case process, or the program's group (< 0). */
pid_t case_kill_target(const struct running_case *r);
/* The program output to poll, or -1. */
int case_output_fd(const struct running_case *r);
/* How long r may wait for an event before it must be advanced again (its timeout, its kill). */
long case_next_ms(const struct running_case *r, long now);
/* Advances r without blocking: reads its output when readable, reaps it, kills it past its
 * timeout. Returns 1 once it has ended. */
int case_advance(struct running_case *r, int readable, long now);
/* Writes a task mark for tid of a program case, once per task. */
void case_name_task(struct running_case *r, pid_t tid);
/* Writes r's end mark, then its TAP point numbered n; frees what it holds; returns its outcome. */
enum outcome case_finish(struct running_case *r, int n, long now);

long now_ms(void);

#endif
