/* Fault threads and SIGBUS capture. */
#define _GNU_SOURCE
#include "threads.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define MAX_THREADS 40

static struct fthread slots[MAX_THREADS];
static __thread sigjmp_buf *tl_jmp;
static __thread void *tl_addr;
static const struct plan_case *marked_case;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (tl_jmp) {
		tl_addr = si->si_addr;
		siglongjmp(*tl_jmp, 1);
	}
	/* not in a fault thread: let the fault repeat with the default action (the case crashes) */
	signal(sig, SIG_DFL);
}

void threads_init(const struct plan_case *c)
{
	struct sigaction sa;

	marked_case = c;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

struct fthread *thread_slot(const char *name, int create)
{
	struct fthread *free_slot = NULL;

	for (int i = 0; i < MAX_THREADS; i++) {
		if (slots[i].in_use && strcmp(slots[i].name, name) == 0)
			return &slots[i];
		if (!slots[i].in_use && !free_slot)
			free_slot = &slots[i];
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	strncpy(free_slot->name, name, sizeof(free_slot->name) - 1);
	free_slot->in_use = 1;
	return free_slot;
}

static void do_read(struct fthread *t)
{
	const volatile unsigned char *p = (const volatile unsigned char *)t->addr;
	int first = p[0];

	t->first = first;
	t->mismatch = -1;
	for (size_t i = 1; i < t->len; i++) {
		int b = p[i];
		if (b != first) {
			t->mismatch = (long)i;
			t->mismatch_byte = b;
			return;
		}
	}
}

static void *thread_main(void *arg)
{
	struct fthread *t = arg;
	sigjmp_buf jb;

	/* before it touches the memory: a report its fault causes names this thread's pid */
	mark_task(marked_case, syscall(SYS_gettid));
	if (sigsetjmp(jb, 1) == 0) {
		tl_jmp = &jb;
		switch (t->work) {
		case WORK_READ:
			do_read(t);
			break;
		case WORK_WRITE:
			memset(t->addr, t->byte, t->len);
			do_read(t);
			break;
		case WORK_MADVISE:
			t->err = madvise(t->addr, t->len, t->advice) == 0 ? 0 : errno;
			break;
		case WORK_MREMAP: {
			void *to = remap_run(&t->remap);
			t->err = to == MAP_FAILED ? errno : 0;
			t->moved_to = to == MAP_FAILED ? NULL : to;
			break;
		}
		case WORK_MUNMAP:
			t->err = munmap(t->addr, t->len) == 0 ? 0 : errno;
			break;
		}
	} else {
		t->sigbus = 1;
		t->sigbus_addr = tl_addr;
	}
	tl_jmp = NULL;
	pthread_mutex_lock(&t->mu);
	t->finished = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int thread_start(struct fthread *t)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	t->finished = 0;
	t->sigbus = 0;
	/* fault threads take no asynchronous signals (the parent's SIGCHLD mask etc.) */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t->tid, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

void deadline_after(struct timespec *deadline, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += ms / 1000;
	deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

int thread_wait(struct fthread *t, int wait_ms)
{
	struct timespec deadline;
	int finished;

	deadline_after(&deadline, wait_ms);
	pthread_mutex_lock(&t->mu);
	while (!t->finished && pthread_cond_timedwait(&t->cv, &t->mu, &deadline) != ETIMEDOUT)
		;
	finished = t->finished;
	pthread_mutex_unlock(&t->mu);
	if (finished)
		pthread_join(t->tid, NULL);
	return finished;
}

void threads_forget(void)
{
	memset(slots, 0, sizeof(slots));
}

void thread_release(struct fthread *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	t->in_use = 0;
}

long thread_value_mismatch(const struct fthread *t, int want, int *got)
{
	if (t->first != want) {
		*got = t->first;
		return 0;
	}
	if (t->mismatch >= 0) {
		*got = t->mismatch_byte;
		return t->mismatch;
	}
	return -1;
}
