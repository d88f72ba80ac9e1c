/* A case's child processes: forked from a thread (fork waits for its FORK event to be read when
 * the case asked for EVENT_FORK, and the main thread is the one that reads it), then driven over a
 * pair of pipes. The child's memory is a copy of the case process's, so a step is sent as the
 * address of its plan entry, which means the same step in both. */
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "threads.h"

struct child {
	char name[32];
	int in_use;
	const struct plan_case *pc;
	child_serve_fn serve;
	void *arg;
	pthread_t forker;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int forked;    /* fork() returned in the case process (under mu) */
	int fork_err;
	int reaped;
	pid_t pid;
	int cmd[2];    /* steps to the child */
	int rep[2];    /* its replies */
	int uffd;      /* from the FORK event, -1 before */
};

static struct child children[CHILDREN_MAX];
static const char *self;

const char *child_self(void)
{
	return self;
}

static struct child *find(const char *name)
{
	for (int i = 0; i < CHILDREN_MAX; i++)
		if (children[i].in_use && !strcmp(children[i].name, name))
			return &children[i];
	return NULL;
}

static int io_full(int fd, void *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = writing ? write(fd, (char *)buf + done, len - done) : read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return done == 0 && n == 0 ? 0 : -1;
		done += (size_t)n;
	}
	return 1;
}

/* The child: only the forking thread lives on in it. It answers steps until told to exit, or
 * until the case process is gone (its end of the pipe closes). */
static void child_main(struct child *ch)
{
	sigset_t none;

	self = ch->name;
	for (int i = 0; i < CHILDREN_MAX; i++) {
		/* another child's pipe ends stay with the case process alone, so each child sees EOF
		 * when the case process dies */
		if (&children[i] != ch && children[i].in_use) {
			close(children[i].cmd[1]);
			close(children[i].rep[0]);
		}
	}
	close(ch->cmd[1]);
	close(ch->rep[0]);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	threads_forget();
	/* before any step, so a report from its first one is tied to the case */
	mark_task(ch->pc, (long)getpid());
	for (;;) {
		const struct step *s = NULL;
		struct child_reply reply;
		int got = io_full(ch->cmd[0], &s, sizeof(s), 0);
		if (got <= 0 || !s)
			_exit(got < 0 ? 3 : 0);
		memset(&reply, 0, sizeof(reply));
		ch->serve(ch->arg, s, &reply);
		if (io_full(ch->rep[1], &reply, sizeof(reply), 1) <= 0)
			_exit(3);
	}
}

static void *forker(void *arg)
{
	struct child *ch = arg;
	pid_t pid;
	int err;

	/* the fork waits in the kernel for its FORK event: a report from there names this thread */
	mark_task(ch->pc, syscall(SYS_gettid));
	pid = fork();
	err = errno;

	if (pid == 0)
		child_main(ch);
	pthread_mutex_lock(&ch->mu);
	ch->pid = pid;
	ch->fork_err = pid < 0 ? err : 0;
	ch->forked = 1;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
	return NULL;
}

int child_fork(const struct plan_case *pc, const char *name, child_serve_fn serve, void *arg, char *why, size_t whylen)
{
	struct child *ch = NULL;
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	for (int i = 0; i < CHILDREN_MAX && !ch; i++)
		if (!children[i].in_use)
			ch = &children[i];
	if (!ch)
		return snprintf(why, whylen, "fork: more than %d children", CHILDREN_MAX), -1;
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->pc = pc;
	ch->serve = serve;
	ch->arg = arg;
	ch->uffd = -1;
	if (pipe2(ch->cmd, O_CLOEXEC) || pipe2(ch->rep, O_CLOEXEC))
		return snprintf(why, whylen, "fork: pipe: %s", strerror(errno)), -1;
	pthread_mutex_init(&ch->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ch->cv, &ca);
	pthread_condattr_destroy(&ca);
	ch->in_use = 1;
	/* a child that died leaves a closed pipe: a write to it must fail with EPIPE, which names
	 * how the child ended, not kill the case process */
	signal(SIGPIPE, SIG_IGN);
	/* as fault threads do: no asynchronous signals in the forking thread (nor, at first, the child) */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ch->forker, NULL, forker, ch);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		ch->in_use = 0;
		return snprintf(why, whylen, "fork: pthread_create: %s", strerror(err)), -1;
	}
	return 0;
}

/* fork() returns at once, or as soon as its FORK event is read */
#define FORK_WAIT_MS 2000

/* Waits up to wait_ms for fork() to return in the case process; 0 when the child exists. */
static int forked(struct child *ch, int wait_ms, char *why, size_t whylen)
{
	struct timespec deadline;
	int done;

	deadline_after(&deadline, wait_ms);
	pthread_mutex_lock(&ch->mu);
	while (!ch->forked && pthread_cond_timedwait(&ch->cv, &ch->mu, &deadline) != ETIMEDOUT)
		;
	done = ch->forked;
	pthread_mutex_unlock(&ch->mu);
	if (!done)
		return snprintf(why, whylen, "child %s: fork() has not returned after %dms (an unread FORK event holds it)",
				ch->name, wait_ms), -1;
	if (ch->rep[1] >= 0) {
		pthread_join(ch->forker, NULL);
		close(ch->cmd[0]);
		close(ch->rep[1]);
		ch->cmd[0] = ch->rep[1] = -1;
	}
	if (ch->fork_err)
		return snprintf(why, whylen, "fork: %s", strerror(ch->fork_err)), -1;
	return 0;
}

static void describe_end(const struct child *ch, int status, char *why, size_t whylen)
{
	if (WIFSIGNALED(status))
		snprintf(why, whylen, "child %s was killed by %s", ch->name, signal_name(WTERMSIG(status)));
	else
		snprintf(why, whylen, "child %s exited with status %d", ch->name, WEXITSTATUS(status));
}

int child_run(const char *name, const struct step *s, int wait_ms, struct child_reply *out, char *why, size_t whylen)
{
	struct child *ch = find(name);
	struct pollfd pfd;
	int n, status = 0;

	if (!ch || ch->reaped)
		return snprintf(why, whylen, "no running child %s", name), -1;
	if (forked(ch, FORK_WAIT_MS, why, whylen))
		return -1;
	if (io_full(ch->cmd[1], &s, sizeof(s), 1) <= 0)
		n = 0;
	else {
		pfd.fd = ch->rep[0];
		pfd.events = POLLIN;
		do
			n = poll(&pfd, 1, wait_ms);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return snprintf(why, whylen, "child %s did not answer within %dms", name, wait_ms), -1;
		n = io_full(ch->rep[0], out, sizeof(*out), 0);
	}
	if (n > 0)
		return 0;
	/* its end of the pipe closed: it is gone */
	waitpid(ch->pid, &status, 0);
	ch->reaped = 1;
	describe_end(ch, status, why, whylen);
	return -1;
}

int child_join(const char *name, int wait_ms, int *signal, char *why, size_t whylen)
{
	struct child *ch = find(name);
	const struct step *bye = NULL;
	int status = 0;
	long until;

	*signal = 0;
	if (!ch || ch->reaped)
		return snprintf(why, whylen, "no running child %s", name), -1;
	if (forked(ch, FORK_WAIT_MS, why, whylen))
		return -1;
	io_full(ch->cmd[1], &bye, sizeof(bye), 1);
	until = now_ms() + wait_ms;
	while (waitpid(ch->pid, &status, WNOHANG) == 0) {
		if (now_ms() >= until) {
			kill(ch->pid, SIGKILL);
			waitpid(ch->pid, &status, 0);
			ch->reaped = 1;
			return snprintf(why, whylen, "child %s did not exit within %dms", name, wait_ms), -1;
		}
		usleep(2000);
	}
	ch->reaped = 1;
	close(ch->cmd[1]);
	close(ch->rep[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		*signal = WTERMSIG(status);
	describe_end(ch, status, why, whylen);
	return -1;
}

int child_uffd(const char *name)
{
	struct child *ch = find(name);

	return ch ? ch->uffd : -1;
}

void child_set_uffd(const char *name, int fd)
{
	struct child *ch = find(name);

	if (ch)
		ch->uffd = fd;
	else
		close(fd);
}
