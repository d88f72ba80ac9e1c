/* Named fault threads: each touches memory (or calls madvise) and may block in a userfault;
 * a SIGBUS it takes is caught with a per-thread sigsetjmp and recorded, not fatal. */
#ifndef FAULTLINE_THREADS_H
#define FAULTLINE_THREADS_H

#include <pthread.h>
#include <stddef.h>

#include "remap.h"

enum work { WORK_READ, WORK_WRITE, WORK_MADVISE, WORK_MREMAP, WORK_MUNMAP };

struct fthread {
	char name[32];
	int in_use;
	pthread_t tid;
	/* the work */
	enum work work;
	char *addr;
	size_t len;
	int byte;
	int advice;
	int expect_err; /* madvise, mremap, munmap: the errno the step expects, 0 for success */
	struct remap_call remap; /* mremap: the call */
	int move;       /* mremap: its index in the region's moves */
	int step_line;  /* YAML line of the step that started it, for messages */
	/* the outcome, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int finished;
	int sigbus;
	void *sigbus_addr;
	int err;            /* madvise, mremap, munmap: errno, 0 on success */
	char *moved_to;     /* mremap: what it returned */
	int first;          /* read: the first byte read */
	long mismatch;      /* read: first offset whose byte differs from `first`, -1 if none */
	int mismatch_byte;
};

struct plan_case;

/* Installs the process-wide SIGBUS handler (once per case process); c is the case whose task
 * mark each thread writes for itself. */
void threads_init(const struct plan_case *c);
/* Finds a thread by name, or takes a free slot for it when create is set. */
struct fthread *thread_slot(const char *name, int create);
/* Starts t with its work fields set; returns 0 or an errno. */
int thread_start(struct fthread *t);
/* Waits up to wait_ms for t to finish; 1 = finished (and joined), 0 = still running. */
/* CLOCK_MONOTONIC now plus ms, for pthread_cond_timedwait on a monotonic condition */
void deadline_after(struct timespec *deadline, int ms);
int thread_wait(struct fthread *t, int wait_ms);
/* Releases a finished thread's slot. */
void thread_release(struct fthread *t);
/* In a forked child: the case process's threads are not there, so their names are free. */
void threads_forget(void);
/* For a finished read: -1 if every byte equals want, else the first offset that does not (and
 * its byte in *got). */
long thread_value_mismatch(const struct fthread *t, int want, int *got);

#endif
