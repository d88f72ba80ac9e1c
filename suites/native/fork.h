/* Child processes as actors of a case: a `fork` step forks the case process, and the child then
 * runs the steps that name it, one at a time, at the case process's request, answering each with
 * its verdict over a pipe. The case process stays the judge: a child that dies or does not answer
 * fails the step that asked it. */
#ifndef FAULTLINE_FORK_H
#define FAULTLINE_FORK_H

#include <stddef.h>

#include "plan.h"

#define CHILDREN_MAX 8

/* What the child says about one step: its STEP_ code, why it skipped, and its message. */
struct child_reply {
	int rc;
	int skip_cause;
	char reason[1024];
};

/* Runs one step inside the child; fills the reply. */
typedef void (*child_serve_fn)(void *arg, const struct step *s, struct child_reply *out);

/* Starts fork() of the case process in a thread of its own, so the fork may wait for its FORK
 * event to be read by a later step. In the child, serve runs each step the case process sends
 * (arg as given, in the child's copy of memory). Returns 0, or -1 with the reason in why. */
int child_fork(const struct plan_case *pc, const char *name, child_serve_fn serve, void *arg, char *why, size_t whylen);
/* In the child: its name; in the case process: NULL. */
const char *child_self(void);
/* Has name's child run step s and returns its reply; -1 when it could not (why says how: fork
 * still waiting, the child died or did not answer within wait_ms). */
int child_run(const char *name, const struct step *s, int wait_ms, struct child_reply *out, char *why, size_t whylen);
/* Tells the child to exit and waits up to wait_ms for it: 0 = it exited 0, else -1 with how it
 * ended in why (*signal: the signal that killed it, 0 if none). */
int child_join(const char *name, int wait_ms, int *signal, char *why, size_t whylen);
/* The userfaultfd the FORK event handed over for the child's memory (-1 if none yet). */
int child_uffd(const char *name);
void child_set_uffd(const char *name, int fd);

#endif
