/* The symbolic names a plan may use, and the few formatting helpers around them. */
#include "names.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

const struct name_value feature_names[] = {
	{"PAGEFAULT_FLAG_WP", UFFD_FEATURE_PAGEFAULT_FLAG_WP},
	{"EVENT_FORK", UFFD_FEATURE_EVENT_FORK},
	{"EVENT_REMAP", UFFD_FEATURE_EVENT_REMAP},
	{"EVENT_REMOVE", UFFD_FEATURE_EVENT_REMOVE},
	{"MISSING_HUGETLBFS", UFFD_FEATURE_MISSING_HUGETLBFS},
	{"MISSING_SHMEM", UFFD_FEATURE_MISSING_SHMEM},
	{"EVENT_UNMAP", UFFD_FEATURE_EVENT_UNMAP},
	{"SIGBUS", UFFD_FEATURE_SIGBUS},
	{"THREAD_ID", UFFD_FEATURE_THREAD_ID},
	{"MINOR_HUGETLBFS", UFFD_FEATURE_MINOR_HUGETLBFS},
	{"MINOR_SHMEM", UFFD_FEATURE_MINOR_SHMEM},
	{"EXACT_ADDRESS", UFFD_FEATURE_EXACT_ADDRESS},
	{"WP_HUGETLBFS_SHMEM", UFFD_FEATURE_WP_HUGETLBFS_SHMEM},
	{"WP_UNPOPULATED", UFFD_FEATURE_WP_UNPOPULATED},
	{"POISON", UFFD_FEATURE_POISON},
	{"WP_ASYNC", UFFD_FEATURE_WP_ASYNC},
	{"MOVE", UFFD_FEATURE_MOVE},
	{NULL, 0},
};

const struct name_value register_modes[] = {
	{"MISSING", UFFDIO_REGISTER_MODE_MISSING},
	{"WP", UFFDIO_REGISTER_MODE_WP},
	{"MINOR", UFFDIO_REGISTER_MODE_MINOR},
	{NULL, 0},
};

const struct name_value fault_flags[] = {
	{"WRITE", UFFD_PAGEFAULT_FLAG_WRITE},
	{"WP", UFFD_PAGEFAULT_FLAG_WP},
	{"MINOR", UFFD_PAGEFAULT_FLAG_MINOR},
	{NULL, 0},
};

const struct name_value ioctl_numbers[] = {
	{"WAKE", _UFFDIO_WAKE},
	{"COPY", _UFFDIO_COPY},
	{"ZEROPAGE", _UFFDIO_ZEROPAGE},
	{"MOVE", _UFFDIO_MOVE},
	{"WRITEPROTECT", _UFFDIO_WRITEPROTECT},
	{"CONTINUE", _UFFDIO_CONTINUE},
	{"POISON", _UFFDIO_POISON},
	{NULL, 0},
};

const struct name_value event_types[] = {
	{"PAGEFAULT", UFFD_EVENT_PAGEFAULT},
	{"FORK", UFFD_EVENT_FORK},
	{"REMAP", UFFD_EVENT_REMAP},
	{"REMOVE", UFFD_EVENT_REMOVE},
	{"UNMAP", UFFD_EVENT_UNMAP},
	{NULL, 0},
};

const struct name_value errno_names[] = {
	{"EPERM", EPERM},     {"ENOENT", ENOENT},   {"ESRCH", ESRCH},         {"EINTR", EINTR},
	{"EIO", EIO},         {"E2BIG", E2BIG},     {"EBADF", EBADF},         {"EAGAIN", EAGAIN},
	{"ENOMEM", ENOMEM},   {"EACCES", EACCES},   {"EFAULT", EFAULT},       {"EBUSY", EBUSY},
	{"EEXIST", EEXIST},   {"ENODEV", ENODEV},   {"EINVAL", EINVAL},       {"ENOSPC", ENOSPC},
	{"ESPIPE", ESPIPE},   {"ERANGE", ERANGE},   {"ENOSYS", ENOSYS},       {"ENOTTY", ENOTTY},
	{"EPROTO", EPROTO},   {"EOPNOTSUPP", EOPNOTSUPP}, {"EHWPOISON", EHWPOISON}, {"EROFS", EROFS},
	{"ENXIO", ENXIO},
	{NULL, 0},
};

const struct name_value signal_names[] = {
	{"SEGV", SIGSEGV}, {"BUS", SIGBUS},   {"ABRT", SIGABRT}, {"KILL", SIGKILL}, {"ILL", SIGILL},
	{"FPE", SIGFPE},   {"TRAP", SIGTRAP}, {"TERM", SIGTERM}, {"INT", SIGINT},   {NULL, 0},
};

int name_lookup(const struct name_value *table, const char *name, uint64_t *out)
{
	for (; table->name; table++) {
		if (strcmp(table->name, name) == 0) {
			*out = table->value;
			return 0;
		}
	}
	return -1;
}

const char *name_of(const struct name_value *table, uint64_t value)
{
	for (; table->name; table++)
		if (table->value == value)
			return table->name;
	return NULL;
}

int flags_parse(const struct name_value *table, const char *text, uint64_t *out, char *bad, size_t badlen)
{
	uint64_t bits = 0;
	char buf[256];

	if (strcmp(text, "0") == 0) {
		*out = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		uint64_t v;
		/* A number stands for bits newer than these tables, e.g. a feature a patch series adds. */
		if (name_lookup(table, tok, &v) != 0 && number_parse(tok, &v) != 0) {
			snprintf(bad, badlen, "%s", tok);
			return -1;
		}
		bits |= v;
	}
	if (text[0] == '\0' || text[0] == '|' || text[strlen(text) - 1] == '|' || strstr(text, "||")) {
		snprintf(bad, badlen, "%s", text);
		return -1;
	}
	*out = bits;
	return 0;
}

const char *flags_format(const struct name_value *table, uint64_t bits, char *buf, size_t len)
{
	size_t used = 0;
	uint64_t rest = bits;

	buf[0] = '\0';
	if (bits == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	for (; table->name; table++) {
		if (table->value && (bits & table->value) == table->value) {
			used += snprintf(buf + used, used < len ? len - used : 0, "%s%s", used ? "|" : "", table->name);
			rest &= ~table->value;
		}
	}
	if (rest)
		snprintf(buf + used, used < len ? len - used : 0, "%s0x%llx", used ? "|" : "", (unsigned long long)rest);
	return buf;
}

const char *errno_name(int err)
{
	static char unknown[32];
	const char *name = name_of(errno_names, (uint64_t)err);

	if (name)
		return name;
	snprintf(unknown, sizeof(unknown), "errno %d", err);
	return unknown;
}

const char *signal_name(int sig)
{
	static char buf[32];
	const char *name = name_of(signal_names, (uint64_t)sig);

	if (name)
		snprintf(buf, sizeof(buf), "SIG%s", name);
	else
		snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

int number_parse(const char *text, uint64_t *out)
{
	char *end = NULL;
	int base = 10;

	if (text[0] == '\0' || text[0] == '-' || text[0] == '+')
		return -1;
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		base = 16;
		if (text[2] == '\0')
			return -1;
	}
	errno = 0;
	*out = strtoull(text, &end, base);
	if (errno || *end != '\0')
		return -1;
	return 0;
}
