/* The helper's side of a case: check needs, fork the case process, enforce its timeout, and
 * turn how it ended into a TAP test point. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "case.h"
#include "region.h"
#include "tap.h"
#include "uffd.h"

/* The case process (> 0) or program group (< 0) running now. On the host, faultline stops the
 * helper with SIGTERM; what runs must go with it, or it holds faultline's pipe open until it ends. */
static volatile sig_atomic_t running;

static void on_stop(int sig)
{
	if (running)
		kill((pid_t)running, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

/* Blocked from before a fork until `running` names the child, so a stop never misses it. */
static void block_stops(int how)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&set, stop_signals[i]);
	sigprocmask(how, &set, NULL);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line into the kernel log, best effort: kernel messages are only tied to cases (and to a
 * program's output) when /dev/kmsg is writable. */
static void kmsg_line(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (n > 0 && write(fd, buf, (size_t)n) < 0) {
		/* best effort */
	}
	close(fd);
}

static void kmsg(const struct plan_case *c, const char *what)
{
	kmsg_line("faultline: case %s/%s %s\n", c->suite, c->name, what);
}

static int swap_active(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[512];
	int lines = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1; /* the first line is the header */
}

enum skip_cause needs_unmet(const struct plan_case *c, char *why, size_t whylen)
{
	for (int i = 0; i < c->nneeds; i++) {
		const struct need *n = &c->needs[i];
		if (!strcmp(n->key, "kernel")) {
			struct utsname u;
			int maj = 0, min = 0, wmaj = 0, wmin = 0;
			uname(&u);
			sscanf(u.release, "%d.%d", &maj, &min);
			sscanf(n->val, "%d.%d", &wmaj, &wmin);
			if (maj < wmaj || (maj == wmaj && min < wmin))
				return snprintf(why, whylen, "needs kernel %s or newer (running %s)", n->val, u.release), SKIP_RELEASE;
		} else if (!strcmp(n->key, "hugepages")) {
			uint64_t want = 0;
			long total;
			number_parse(n->val, &want);
			if (hugepages_available(&total) < (long)want)
				return hugepages_reason((long)want, why, whylen), SKIP_RESOURCE;
		} else if (!strcmp(n->key, "feature")) {
			uint64_t have, bit = 0;
			char reason[256];
			int named = name_lookup(feature_names, n->val, &bit) == 0;
			if (!named)
				number_parse(n->val, &bit);
			if (uffd_probe(&have, reason, sizeof(reason)))
				return snprintf(why, whylen, "%s", reason), SKIP_RESOURCE;
			if ((have & bit) != bit || !bit)
				return snprintf(why, whylen, named ? "kernel lacks UFFD_FEATURE_%s" : "kernel lacks uffd feature bits %s", n->val), SKIP_FEATURE;
		} else if (!strcmp(n->key, "swap")) {
			if (!swap_active())
				return snprintf(why, whylen, "needs active swap, none in /proc/swaps (swapon a swap "
					 "device or file)"), SKIP_RESOURCE;
		}
	}
	return SKIP_NONE;
}

/* 'Z' while the case's main thread has exited but other threads live on: what an oops in the
 * main thread leaves (the kernel kills the task, not its process). */
static int leader_is_zombie(pid_t pid)
{
	char path[64], buf[256], *end;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	end = strrchr(buf, ')');
	return end && end[1] == ' ' && end[2] == 'Z';
}

/* Waits for pid up to timeout_ms; returns 1 with *status when it ended, 0 on timeout. With
 * `outcome` (the case's shared verdict, -1 until its main thread records one), also returns -1
 * when the main thread is gone without a verdict while the process lives on. SIGCHLD is
 * blocked, so sigtimedwait sleeps until a child changes state. */
static int wait_child(pid_t pid, int timeout_ms, int *status, const volatile int *outcome)
{
	long deadline = now_ms() + timeout_ms, zombie_since = 0;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		long left = deadline - now_ms();
		struct timespec ts;
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (left <= 0)
			return 0;
		/* The main thread records a verdict before it exits, so a dead main thread without
		 * one was killed by the kernel; 200 ms of it rules out reading a verdict mid-write. */
		if (!outcome || *outcome >= 0 || !leader_is_zombie(pid))
			zombie_since = 0;
		else if (!zombie_since)
			zombie_since = now_ms();
		else if (now_ms() - zombie_since >= 200)
			return -1;
		if (left > 50)
			left = 50; /* re-poll even if a SIGCHLD was consumed elsewhere */
		ts.tv_sec = 0;
		ts.tv_nsec = left * 1000000L;
		sigtimedwait(&chld, NULL, &ts);
	}
}

static enum outcome run_case(const struct plan_case *c, char *reason, size_t reasonlen, long *ms, enum skip_cause *cause, int *line)
{
	struct case_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	enum outcome outcome;
	long start;
	pid_t pid;
	int status = 0, unkillable = 0, waited;
	char step[64];

	if (sh == MAP_FAILED) {
		snprintf(reason, reasonlen, "mmap for the case process: %s", strerror(errno));
		return OUTCOME_FAIL;
	}
	memset(sh, 0, sizeof(*sh));
	sh->outcome = -1;
	kmsg(c, "begin");
	fflush(stdout);
	fflush(stderr);
	start = now_ms();
	block_stops(SIG_BLOCK);
	pid = fork();
	if (pid < 0) {
		block_stops(SIG_UNBLOCK);
		snprintf(reason, reasonlen, "fork: %s", strerror(errno));
		munmap(sh, sizeof(*sh));
		kmsg(c, "end");
		return OUTCOME_FAIL;
	}
	if (pid == 0) {
		sigset_t none;
		enum outcome o;
		for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
			signal(stop_signals[i], SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		o = case_execute(c, sh);
		sh->outcome = (int)o;
		_exit(o == OUTCOME_FAIL ? 1 : 0);
	}
	running = pid;
	block_stops(SIG_UNBLOCK);
	waited = wait_child(pid, c->timeout_ms, &status, &sh->outcome);
	if (waited != 1) {
		kill(pid, SIGKILL);
		/* A process stuck in the kernel (uninterruptible sleep) never dies: say so and go on
		 * rather than hang the helper, and the guest, in waitpid. */
		unkillable = wait_child(pid, 2000, &status, NULL) != 1;
		status = -1;
	}
	running = 0;
	*ms = now_ms() - start;
	*line = sh->line;
	if (sh->line)
		snprintf(step, sizeof(step), "line %d: %s", sh->line, sh->op);
	else
		snprintf(step, sizeof(step), "setup, before the first step");
	if (waited == -1) {
		outcome = OUTCOME_CRASH;
		snprintf(reason, reasonlen, "%s: the case's main thread died in the kernel while its other threads "
			 "lived on (an oops?); the process was killed", step);
	} else if (status == -1) {
		outcome = OUTCOME_TIMEOUT;
		snprintf(reason, reasonlen, "%s: timed out after %dms%s", step, c->timeout_ms,
			 unkillable ? "; the case process did not die after SIGKILL (stuck in the kernel)" : "");
	} else if (WIFSIGNALED(status)) {
		outcome = OUTCOME_CRASH;
		snprintf(reason, reasonlen, "%s: case process killed by %s%s", step, signal_name(WTERMSIG(status)),
			 WCOREDUMP(status) ? " (core dumped)" : "");
	} else if (sh->outcome < 0) {
		outcome = OUTCOME_CRASH;
		snprintf(reason, reasonlen, "%s: case process exited with status %d before reporting", step,
			 WEXITSTATUS(status));
	} else {
		outcome = (enum outcome)sh->outcome;
		snprintf(reason, reasonlen, "%s", sh->reason);
		if (outcome == OUTCOME_SKIP)
			*cause = (enum skip_cause)sh->skip_cause;
	}
	kmsg(c, "end");
	munmap(sh, sizeof(*sh));
	return outcome;
}

/* A program's output as the helper keeps it: all of it up to a bound, and how much it dropped. */
struct capture {
	unsigned char *buf;
	size_t len, cap, dropped;
	char line[400];
	size_t linelen;
	size_t shown; /* of line, the bytes already echoed */
	int echoed;
	int eof;
};

#define CAPTURE_MAX (8u << 20)
#define ECHO_MAX 4000

/* Each output line also goes to the kernel log, so the console shows the program's progress in
 * order with anything the kernel prints: the host ties a kernel report to the subtest that was
 * running. A line the program flushed without its newline ("Testing minor on shmem... ", whose
 * "done" comes when the test ends) is shown as far as it goes, and the rest of it later. Bounded,
 * so a chatty program cannot flood a slow serial console. */
static void echo_unshown(struct capture *cap)
{
	if (cap->linelen <= cap->shown || cap->echoed >= ECHO_MAX)
		return;
	cap->echoed++;
	for (size_t i = cap->shown; i < cap->linelen; i++)
		if ((unsigned char)cap->line[i] < 0x20)
			cap->line[i] = ' ';
	kmsg_line("faultline-out: %.*s\n", (int)(cap->linelen - cap->shown), cap->line + cap->shown);
	cap->shown = cap->linelen;
}

static void capture_bytes(struct capture *cap, const unsigned char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			echo_unshown(cap);
			cap->linelen = cap->shown = 0;
		} else if (cap->linelen < sizeof(cap->line)) {
			cap->line[cap->linelen++] = (char)data[i];
		}
	}
	echo_unshown(cap);
	if (cap->len + n > CAPTURE_MAX) {
		size_t keep = CAPTURE_MAX - cap->len;
		cap->dropped += n - keep;
		n = keep;
	}
	if (cap->len + n > cap->cap) {
		size_t want = cap->cap ? cap->cap * 2 : 65536;
		while (want < cap->len + n)
			want *= 2;
		unsigned char *grown = realloc(cap->buf, want);
		if (!grown) {
			cap->dropped += n;
			return;
		}
		cap->buf = grown;
		cap->cap = want;
	}
	memcpy(cap->buf + cap->len, data, n);
	cap->len += n;
}

/* Reads what the program writes until the pipe closes or `until` (a now_ms() time) passes. */
static void drain(int fd, struct capture *cap, long until, int wait_ms)
{
	unsigned char chunk[16384];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (now_ms() < until && poll(&pfd, 1, wait_ms) > 0) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0) {
			cap->eof = 1;
			return;
		}
		capture_bytes(cap, chunk, (size_t)n);
	}
}

/* Runs a program case: its argv in its cwd, in its own process group (a test that forks is
 * stopped whole), stdout and stderr captured, stopped at the case's timeout. */
static enum outcome run_program_case(const struct plan_case *c, char *reason, size_t reasonlen, long *ms, char *ended,
				     size_t endedlen, struct capture *cap)
{
	int pipefd[2], status = 0, done = 0, unkillable = 0;
	long start, deadline;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC)) {
		snprintf(reason, reasonlen, "pipe: %s", strerror(errno));
		snprintf(ended, endedlen, "not started");
		return OUTCOME_FAIL;
	}
	if (c->scratch[0])
		unlink(c->scratch);
	kmsg(c, "begin");
	fflush(stdout);
	start = now_ms();
	block_stops(SIG_BLOCK);
	pid = fork();
	if (pid == 0) {
		char *argv[PLAN_MAX_ARGS + 1];
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		/* in its own group it would stop at a read of the console (SIGTTIN) */
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		for (int i = 0; i < c->nargs; i++)
			argv[i] = (char *)c->argv[i];
		argv[c->nargs] = NULL;
		if (chdir(c->cwd) == 0)
			execv(argv[0], argv);
		dprintf(STDOUT_FILENO, "faultline-helper: cannot run %s in %s: %s\n", argv[0], c->cwd, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	if (pid > 0) {
		setpgid(pid, pid); /* also here, so the group exists before the parent may kill it */
		running = -pid;
	}
	block_stops(SIG_UNBLOCK);
	if (pid < 0) {
		close(pipefd[0]);
		snprintf(reason, reasonlen, "fork: %s", strerror(errno));
		snprintf(ended, endedlen, "not started");
		kmsg(c, "end");
		return OUTCOME_FAIL;
	}
	deadline = start + c->timeout_ms;
	while (!done && now_ms() < deadline) {
		/* once the program closed its output, only its exit is left to wait for */
		if (cap->eof) {
			done = wait_child(pid, (int)(deadline - now_ms()), &status, NULL) == 1;
			break;
		}
		/* a slice at a time: a child still printing must not hide the program's own exit */
		drain(pipefd[0], cap, now_ms() + 50 < deadline ? now_ms() + 50 : deadline, 50);
		done = waitpid(pid, &status, WNOHANG) == pid;
	}
	/* whatever the program left running in its group goes with it, ended or timed out */
	kill(-pid, SIGKILL);
	if (!done)
		unkillable = wait_child(pid, 2000, &status, NULL) != 1;
	running = 0;
	/* What the program printed last, unless a child it left behind holds the pipe open. */
	drain(pipefd[0], cap, now_ms() + 1000, 100);
	close(pipefd[0]);
	echo_unshown(cap);
	*ms = now_ms() - start;
	if (c->scratch[0])
		unlink(c->scratch);
	kmsg(c, "end");
	if (!done) {
		snprintf(ended, endedlen, "timeout");
		snprintf(reason, reasonlen, "%s: timed out after %dms%s", c->argv[0], c->timeout_ms,
			 unkillable ? "; it did not die after SIGKILL (stuck in the kernel)" : "");
		return OUTCOME_TIMEOUT;
	}
	if (WIFSIGNALED(status)) {
		snprintf(ended, endedlen, "signal %s", signal_name(WTERMSIG(status)));
		snprintf(reason, reasonlen, "%s: killed by %s", c->argv[0], signal_name(WTERMSIG(status)));
		return OUTCOME_CRASH;
	}
	snprintf(ended, endedlen, "exit %d", WEXITSTATUS(status));
	snprintf(reason, reasonlen, "%s: exit %d", c->argv[0], WEXITSTATUS(status));
	return WEXITSTATUS(status) == 0 ? OUTCOME_PASS : OUTCOME_FAIL;
}

int run_plan(const struct plan *p)
{
	sigset_t chld;
	int any_bad = 0, nsuites = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		signal(stop_signals[i], on_stop);
	tap_begin();
	for (int i = 0; i < p->ncases;) {
		const char *suite = p->cases[i].suite;
		int n = 0, suite_ok = 1;
		while (i + n < p->ncases && !strcmp(p->cases[i + n].suite, suite))
			n++;
		tap_suite_begin(suite, n);
		for (int k = 0; k < n; k++) {
			const struct plan_case *c = &p->cases[i + k];
			char reason[1024] = "";
			long ms = 0;
			enum outcome o;
			enum skip_cause cause = needs_unmet(c, reason, sizeof(reason));
			if (cause != SKIP_NONE) {
				o = OUTCOME_SKIP;
				tap_case(k + 1, c->name, o, cause, reason, 0, ms);
			} else if (c->nargs) {
				struct capture cap = {0};
				char ended[64];
				o = run_program_case(c, reason, sizeof(reason), &ms, ended, sizeof(ended), &cap);
				tap_program_case(k + 1, c->name, o, reason, ms, ended, cap.buf, cap.len, cap.dropped);
				free(cap.buf);
			} else {
				int line = 0;
				o = run_case(c, reason, sizeof(reason), &ms, &cause, &line);
				tap_case(k + 1, c->name, o, cause, reason, line, ms);
			}
			if (o != OUTCOME_PASS && o != OUTCOME_SKIP)
				suite_ok = 0;
		}
		tap_suite_end(++nsuites, suite, suite_ok);
		any_bad |= !suite_ok;
		i += n;
	}
	tap_end(nsuites);
	return any_bad ? 1 : 0;
}
