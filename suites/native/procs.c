/* Reading /proc/<pid>/stat and /proc/<pid>/task. */
#define _GNU_SOURCE
#include "procs.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields after "pid (comm) ": the comm may hold spaces and parentheses, so they start after
 * the last ')'. Returns 0 with the state and process group, -1 when the task is gone. */
static int read_stat(const char *path, char *state, pid_t *pgrp)
{
	char buf[512], *end;
	int fd, n, ppid, group;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	end = strrchr(buf, ')');
	if (!end || sscanf(end + 1, " %c %d %d", state, &ppid, &group) != 3)
		return -1;
	*pgrp = (pid_t)group;
	return 0;
}

int leader_is_zombie(pid_t pid)
{
	char path[64], state;
	pid_t pgrp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return read_stat(path, &state, &pgrp) == 0 && state == 'Z';
}

static pid_t numeric(const char *name)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)name[0]))
		return 0;
	v = strtol(name, &end, 10);
	return *end ? 0 : (pid_t)v;
}

void group_tasks(const pid_t *groups, int ngroups, void (*found)(int i, pid_t tid, void *arg), void *arg)
{
	DIR *procs = ngroups ? opendir("/proc") : NULL;
	struct dirent *e;

	if (!procs)
		return;
	while ((e = readdir(procs))) {
		pid_t pid = numeric(e->d_name), pgrp;
		char path[64], state;
		DIR *tasks;
		struct dirent *t;
		int i;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (!pid || read_stat(path, &state, &pgrp))
			continue;
		for (i = 0; i < ngroups && groups[i] != pgrp; i++)
			;
		if (i == ngroups)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		tasks = opendir(path);
		if (!tasks) /* it ended meanwhile: its pid is its main thread's */
			continue;
		while ((t = readdir(tasks)))
			if (numeric(t->d_name))
				found(i, numeric(t->d_name), arg);
		closedir(tasks);
	}
	closedir(procs);
}
