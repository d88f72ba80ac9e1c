/* What /proc says about the processes the helper runs: a case process left with a dead main
 * thread, and the tasks of a program's process group. */
#ifndef FAULTLINE_PROCS_H
#define FAULTLINE_PROCS_H

#include <sys/types.h>

/* 1 while pid's main thread has exited but other threads live on: what an oops in the main
 * thread leaves (the kernel kills the task, not its process). */
int leader_is_zombie(pid_t pid);

/* Calls found(i, tid, arg) for every task, threads included, of each process whose process
 * group is groups[i]: one walk of /proc for all the groups. */
void group_tasks(const pid_t *groups, int ngroups, void (*found)(int i, pid_t tid, void *arg), void *arg);

#endif
