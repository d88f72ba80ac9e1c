/* The scheduler: runs a plan's cases up to `workers` at a time (PLAN-FORMAT.md, "Cases side by
 * side"), started in plan order one suite after another, and writes each case's result as soon
 * as it ends. With one worker it is the plain loop of one case after another. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "needs.h"
#include "procs.h"
#include "region.h"
#include "runner.h"

/* The case processes and program groups running now. On the host, faultline stops the helper
 * with SIGTERM; what runs must go with it, or it holds faultline's pipe open until it ends. */
static volatile sig_atomic_t stop_targets[PLAN_MAX_WORKERS];

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

static void on_stop(int sig)
{
	for (int i = 0; i < PLAN_MAX_WORKERS; i++)
		if (stop_targets[i])
			kill((pid_t)stop_targets[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* SIGCHLD is blocked but while the loop waits in ppoll, so a child that ends wakes it. */
static void on_child(int sig)
{
	(void)sig;
}

/* Blocked from before a fork until stop_targets names the child, so a stop never misses it. */
static void block_stops(int how)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&set, stop_signals[i]);
	sigprocmask(how, &set, NULL);
}

struct sched {
	const struct plan *p;
	struct running_case run[PLAN_MAX_WORKERS]; /* in the order they started */
	int nrun;
	long huge_budget; /* free huge pages when the suite began */
	int printed;      /* TAP points of the suite so far */
	int suite_ok;
	long last_scan;
};

static void publish_targets(const struct sched *s)
{
	for (int i = 0; i < PLAN_MAX_WORKERS; i++)
		stop_targets[i] = i < s->nrun ? case_kill_target(&s->run[i]) : 0;
}

/* The most huge pages any `needs hugepages=` line of c asks for. */
static long huge_need(const struct plan_case *c)
{
	long most = 0;

	for (int i = 0; i < c->nneeds; i++) {
		uint64_t n = 0;
		if (!strcmp(c->needs[i].key, "hugepages") && !number_parse(c->needs[i].val, &n) && (long)n > most)
			most = (long)n;
	}
	return most;
}

/* The three start rules: a free worker, `alone` on either side, the suite's huge page budget. */
static int can_start(const struct sched *s, const struct plan_case *c)
{
	long huge = huge_need(c);

	if (!s->nrun)
		return 1;
	if (s->nrun >= s->p->workers || c->alone)
		return 0;
	for (int i = 0; i < s->nrun; i++) {
		if (s->run[i].c->alone)
			return 0;
		huge += huge_need(s->run[i].c);
	}
	return huge <= s->huge_budget;
}

static void record(struct sched *s, enum outcome o)
{
	if (o != OUTCOME_PASS && o != OUTCOME_SKIP)
		s->suite_ok = 0;
}

/* Starts c, or writes its point at once when it skips or cannot start. */
static void start(struct sched *s, const struct plan_case *c)
{
	struct running_case *r = &s->run[s->nrun];
	char reason[1024] = "";
	enum skip_cause cause = needs_unmet(c, reason, sizeof(reason));
	int rc;

	if (cause != SKIP_NONE) {
		tap_case(++s->printed, c->name, OUTCOME_SKIP, cause, reason, 0, 0);
		return;
	}
	block_stops(SIG_BLOCK);
	rc = case_start(r, c);
	if (rc == 0)
		s->nrun++;
	publish_targets(s);
	block_stops(SIG_UNBLOCK);
	if (rc)
		record(s, case_finish(r, ++s->printed, now_ms()));
}

static void name_found(int i, pid_t tid, void *arg)
{
	struct running_case **owners = arg;

	case_name_task(owners[i], tid);
}

/* A program's tasks are named by the helper: every 50 ms, those of its process group. */
static void name_program_tasks(struct sched *s, long now)
{
	pid_t groups[PLAN_MAX_WORKERS];
	struct running_case *owners[PLAN_MAX_WORKERS];
	int n = 0;

	if (now - s->last_scan < 50)
		return;
	s->last_scan = now;
	for (int i = 0; i < s->nrun; i++)
		if (s->run[i].c->nargs && s->run[i].state == RUN_ACTIVE) {
			owners[n] = &s->run[i];
			groups[n++] = s->run[i].pid;
		}
	group_tasks(groups, n, name_found, owners);
}

/* Sleeps until a child changes state, a program writes, or the next deadline (at most 50 ms,
 * so a dead main thread and a program's new tasks are seen); then advances every case and
 * reports those that ended, in the order they started. */
static void wait_and_advance(struct sched *s)
{
	struct pollfd pfd[PLAN_MAX_WORKERS];
	struct running_case ended;
	int slot_fd[PLAN_MAX_WORKERS], nfds = 0;
	long now = now_ms(), wait = 50;
	struct timespec ts;
	sigset_t mask;

	for (int i = 0; i < s->nrun; i++) {
		long next = case_next_ms(&s->run[i], now);
		int fd = case_output_fd(&s->run[i]);
		if (next < wait)
			wait = next;
		slot_fd[i] = -1;
		if (fd >= 0) {
			slot_fd[i] = nfds;
			pfd[nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
	}
	ts.tv_sec = 0;
	ts.tv_nsec = wait * 1000000L;
	sigprocmask(SIG_SETMASK, NULL, &mask);
	sigdelset(&mask, SIGCHLD);
	if (ppoll(pfd, (nfds_t)nfds, &ts, &mask) < 0)
		nfds = 0; /* woken by SIGCHLD: nothing to read yet */
	now = now_ms();
	name_program_tasks(s, now);
	for (int i = 0; i < s->nrun;) {
		int readable = nfds && slot_fd[i] >= 0 && pfd[slot_fd[i]].revents;
		if (!case_advance(&s->run[i], readable, now)) {
			i++;
			continue;
		}
		block_stops(SIG_BLOCK);
		ended = s->run[i];
		memmove(&s->run[i], &s->run[i + 1], (size_t)(s->nrun - i - 1) * sizeof(s->run[0]));
		memmove(&slot_fd[i], &slot_fd[i + 1], (size_t)(s->nrun - i - 1) * sizeof(slot_fd[0]));
		s->nrun--;
		publish_targets(s);
		block_stops(SIG_UNBLOCK);
		record(s, case_finish(&ended, ++s->printed, now));
	}
}

static void run_suite(struct sched *s, const struct plan_case *cases, int n)
{
	long total;
	int next = 0;

	s->huge_budget = hugepages_available(&total);
	if (s->huge_budget < 0)
		s->huge_budget = 0;
	s->printed = 0;
	s->suite_ok = 1;
	while (next < n || s->nrun) {
		while (next < n && can_start(s, &cases[next]))
			start(s, &cases[next++]);
		if (s->nrun)
			wait_and_advance(s);
	}
}

int run_plan(const struct plan *p)
{
	static struct sched s;
	struct sigaction sa;
	sigset_t chld;
	int any_bad = 0, nsuites = 0;

	s.p = p;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		signal(stop_signals[i], on_stop);
	tap_begin();
	for (int i = 0; i < p->ncases;) {
		const char *suite = p->cases[i].suite;
		int n = 0;
		while (i + n < p->ncases && !strcmp(p->cases[i + n].suite, suite))
			n++;
		tap_suite_begin(suite, n);
		run_suite(&s, &p->cases[i], n);
		tap_suite_end(++nsuites, suite, s.suite_ok);
		any_bad |= !s.suite_ok;
		i += n;
	}
	tap_end(nsuites);
	return any_bad ? 1 : 0;
}
