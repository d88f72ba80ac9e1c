/* The helper's side of one case: check needs, start the case process or the program, watch its
 * timeout without blocking, and turn how it ended into kernel-log marks and a TAP test point. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line into the kernel log, best effort: kernel messages are only tied to cases (and to a
 * program's output) when /dev/kmsg is writable. */
static void kmsg_line(const char *fmt, ...)
{
	char buf[1024]; /* a program line (400) after a tag of two names */
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

void mark_task(const struct plan_case *c, long pid)
{
	kmsg_line("faultline: case %s/%s task %ld\n", c->suite, c->name, pid);
}

/* A child starts with the signals as a process normally has them: the helper's stop handlers
 * kill its children, and its SIGCHLD handler only wakes its loop (a case whose step forks must
 * not see its calls interrupted by it). */
static void child_signals(void)
{
	static const int reset[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	sigset_t none;

	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int start_steps_case(struct running_case *r)
{
	const struct plan_case *c = r->c;
	struct case_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED) {
		snprintf(r->failed, sizeof(r->failed), "mmap for the case process: %s", strerror(errno));
		return -1;
	}
	memset(sh, 0, sizeof(*sh));
	sh->outcome = -1;
	r->sh = sh;
	kmsg(c, "begin");
	r->begun = 1;
	fflush(stdout);
	fflush(stderr);
	r->start = now_ms();
	r->pid = fork();
	if (r->pid < 0) {
		snprintf(r->failed, sizeof(r->failed), "fork: %s", strerror(errno));
		return -1;
	}
	if (r->pid == 0) {
		enum outcome o;
		child_signals();
		/* before any step, so a report from the very first one is tied to this case */
		mark_task(c, (long)getpid());
		o = case_execute(c, sh);
		sh->outcome = (int)o;
		_exit(o == OUTCOME_FAIL ? 1 : 0);
	}
	return 0;
}

/* Runs a program case: its argv in its cwd, in its own process group (a test that forks is
 * stopped whole), stdout and stderr captured, stopped at the case's timeout. */
static int start_program_case(struct running_case *r)
{
	const struct plan_case *c = r->c;
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC)) {
		snprintf(r->failed, sizeof(r->failed), "pipe: %s", strerror(errno));
		return -1;
	}
	if (c->scratch[0])
		unlink(c->scratch);
	kmsg(c, "begin");
	r->begun = 1;
	fflush(stdout);
	r->start = now_ms();
	r->pid = fork();
	if (r->pid == 0) {
		char *argv[PLAN_MAX_ARGS + 1];
		child_signals();
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
	if (r->pid < 0) {
		close(pipefd[0]);
		snprintf(r->failed, sizeof(r->failed), "fork: %s", strerror(errno));
		return -1;
	}
	setpgid(r->pid, r->pid); /* also here, so the group exists before the parent may kill it */
	r->fd = pipefd[0];
	case_name_task(r, r->pid);
	return 0;
}

int case_start(struct running_case *r, const struct plan_case *c)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->cap.c = c;
	r->fd = -1;
	r->state = RUN_ACTIVE;
	if (c->nargs ? start_program_case(r) : start_steps_case(r)) {
		r->state = RUN_ENDED;
		r->pid = 0;
		return -1;
	}
	r->deadline = r->start + c->timeout_ms;
	return 0;
}

pid_t case_kill_target(const struct running_case *r)
{
	if (r->pid <= 0 || r->state == RUN_ENDED)
		return 0;
	return r->c->nargs ? -r->pid : r->pid;
}

int case_output_fd(const struct running_case *r)
{
	return r->fd >= 0 && !r->cap.eof ? r->fd : -1;
}

void case_name_task(struct running_case *r, pid_t tid)
{
	for (int i = 0; i < r->nnamed; i++)
		if (r->named[i] == tid)
			return;
	if (r->nnamed == PROGRAM_TASKS_MAX)
		return;
	r->named[r->nnamed++] = tid;
	mark_task(r->c, (long)tid);
}

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
	kmsg_line("faultline-out: [%s/%s] %.*s\n", cap->c->suite, cap->c->name, (int)(cap->linelen - cap->shown),
		  cap->line + cap->shown);
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

/* One read of what the program wrote: the loop comes back while there is more. */
static void read_output(struct running_case *r, long now)
{
	unsigned char chunk[16384];
	ssize_t n = read(r->fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		r->cap.eof = 1;
		return;
	}
	capture_bytes(&r->cap, chunk, (size_t)n);
	r->quiet_since = now;
}

static void kill_case(struct running_case *r, enum run_kill why, long now)
{
	kill(r->c->nargs ? -r->pid : r->pid, SIGKILL);
	r->killed = why;
	r->killed_at = now;
	r->state = RUN_KILLING;
}

static int reaped(struct running_case *r)
{
	if (waitpid(r->pid, &r->status, WNOHANG) != r->pid)
		return 0;
	r->reaped = 1;
	return 1;
}

/* A case of steps: it ends when its process is reaped, or 2 s after SIGKILL if it never dies. */
static int advance_steps_case(struct running_case *r, long now)
{
	if (reaped(r))
		return 1;
	if (r->state == RUN_KILLING) {
		/* A process stuck in the kernel (uninterruptible sleep) never dies: say so and go on
		 * rather than hang the helper, and the guest, in waitpid. */
		r->unkillable = now - r->killed_at >= 2000;
		return r->unkillable;
	}
	if (now >= r->deadline) {
		kill_case(r, KILLED_TIMEOUT, now);
		return 0;
	}
	/* The main thread records a verdict before it exits, so a dead main thread without one
	 * was killed by the kernel; 200 ms of it rules out reading a verdict mid-write. */
	if (r->sh->outcome >= 0 || !leader_is_zombie(r->pid))
		r->leader_dead_since = 0;
	else if (!r->leader_dead_since)
		r->leader_dead_since = now;
	else if (now - r->leader_dead_since >= 200)
		kill_case(r, KILLED_LEADER_DIED, now);
	return 0;
}

/* Once the program ended, whatever it left running in its group goes with it, and what it
 * printed last is read, unless a child it left behind holds the pipe open: the read ends at
 * the pipe's end, after 100 ms without output, or after 1 s. */
static int start_drain(struct running_case *r, long now)
{
	if (r->state == RUN_ACTIVE)
		kill(-r->pid, SIGKILL);
	r->state = RUN_DRAINING;
	r->drain_until = now + 1000;
	r->quiet_since = now;
	return r->fd < 0 || r->cap.eof;
}

static int advance_program_case(struct running_case *r, int readable, long now)
{
	if (readable && case_output_fd(r) >= 0)
		read_output(r, now);
	switch (r->state) {
	case RUN_ACTIVE:
		if (reaped(r))
			return start_drain(r, now);
		if (now >= r->deadline)
			kill_case(r, KILLED_TIMEOUT, now);
		return 0;
	case RUN_KILLING:
		if (reaped(r))
			return start_drain(r, now);
		if (now - r->killed_at >= 2000) {
			r->unkillable = 1;
			return start_drain(r, now);
		}
		return 0;
	case RUN_DRAINING:
		return r->cap.eof || now >= r->drain_until || now - r->quiet_since >= 100;
	default:
		return 1;
	}
}

int case_advance(struct running_case *r, int readable, long now)
{
	if (r->state == RUN_ENDED)
		return 1;
	if (!(r->c->nargs ? advance_program_case(r, readable, now) : advance_steps_case(r, now)))
		return 0;
	r->state = RUN_ENDED;
	return 1;
}

long case_next_ms(const struct running_case *r, long now)
{
	long at;

	switch (r->state) {
	case RUN_ACTIVE:
		at = r->deadline;
		if (r->leader_dead_since && r->leader_dead_since + 200 < at)
			at = r->leader_dead_since + 200;
		break;
	case RUN_KILLING:
		at = r->killed_at + 2000;
		break;
	case RUN_DRAINING:
		at = r->quiet_since + 100 < r->drain_until ? r->quiet_since + 100 : r->drain_until;
		break;
	default:
		at = now;
	}
	return at > now ? at - now : 0;
}

static enum outcome judge_steps_case(struct running_case *r, char *reason, size_t reasonlen, enum skip_cause *cause)
{
	const struct case_shared *sh = r->sh;
	char step[64];

	if (sh->line)
		snprintf(step, sizeof(step), "line %d: %s", sh->line, sh->op);
	else
		snprintf(step, sizeof(step), "setup, before the first step");
	if (r->killed == KILLED_LEADER_DIED) {
		snprintf(reason, reasonlen, "%s: the case's main thread died in the kernel while its other threads "
			 "lived on (an oops?); the process was killed", step);
		return OUTCOME_CRASH;
	}
	if (r->killed == KILLED_TIMEOUT) {
		snprintf(reason, reasonlen, "%s: timed out after %dms%s", step, r->c->timeout_ms,
			 r->unkillable ? "; the case process did not die after SIGKILL (stuck in the kernel)" : "");
		return OUTCOME_TIMEOUT;
	}
	if (WIFSIGNALED(r->status)) {
		snprintf(reason, reasonlen, "%s: case process killed by %s%s", step, signal_name(WTERMSIG(r->status)),
			 WCOREDUMP(r->status) ? " (core dumped)" : "");
		return OUTCOME_CRASH;
	}
	if (sh->outcome < 0) {
		snprintf(reason, reasonlen, "%s: case process exited with status %d before reporting", step,
			 WEXITSTATUS(r->status));
		return OUTCOME_CRASH;
	}
	snprintf(reason, reasonlen, "%s", sh->reason);
	if (sh->outcome == OUTCOME_SKIP)
		*cause = (enum skip_cause)sh->skip_cause;
	return (enum outcome)sh->outcome;
}

static enum outcome judge_program_case(struct running_case *r, char *reason, size_t reasonlen, char *ended, size_t endedlen)
{
	const struct plan_case *c = r->c;

	if (r->killed == KILLED_TIMEOUT) {
		snprintf(ended, endedlen, "timeout");
		snprintf(reason, reasonlen, "%s: timed out after %dms%s", c->argv[0], c->timeout_ms,
			 r->unkillable ? "; it did not die after SIGKILL (stuck in the kernel)" : "");
		return OUTCOME_TIMEOUT;
	}
	if (WIFSIGNALED(r->status)) {
		snprintf(ended, endedlen, "signal %s", signal_name(WTERMSIG(r->status)));
		snprintf(reason, reasonlen, "%s: killed by %s", c->argv[0], signal_name(WTERMSIG(r->status)));
		return OUTCOME_CRASH;
	}
	snprintf(ended, endedlen, "exit %d", WEXITSTATUS(r->status));
	snprintf(reason, reasonlen, "%s: exit %d", c->argv[0], WEXITSTATUS(r->status));
	return WEXITSTATUS(r->status) == 0 ? OUTCOME_PASS : OUTCOME_FAIL;
}

enum outcome case_finish(struct running_case *r, int n, long now)
{
	const struct plan_case *c = r->c;
	char reason[1024] = "", ended[64] = "not started";
	enum skip_cause cause = SKIP_NONE;
	enum outcome o = OUTCOME_FAIL;
	long ms = r->failed[0] ? 0 : now - r->start;

	if (r->fd >= 0)
		close(r->fd);
	echo_unshown(&r->cap);
	if (c->nargs && r->begun && c->scratch[0])
		unlink(c->scratch);
	if (r->failed[0])
		snprintf(reason, sizeof(reason), "%s", r->failed);
	else if (c->nargs)
		o = judge_program_case(r, reason, sizeof(reason), ended, sizeof(ended));
	else
		o = judge_steps_case(r, reason, sizeof(reason), &cause);
	if (r->begun)
		kmsg(c, "end");
	if (c->nargs)
		tap_program_case(n, c->name, o, reason, ms, ended, r->cap.buf, r->cap.len, r->cap.dropped);
	else
		tap_case(n, c->name, o, cause, reason, r->sh && !r->failed[0] ? r->sh->line : 0, ms);
	free(r->cap.buf);
	if (r->sh)
		munmap(r->sh, sizeof(*r->sh));
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	return o;
}
