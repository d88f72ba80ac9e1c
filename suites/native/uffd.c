/* userfaultfd descriptors: opening, the feature handshake, and message reads. */
#define _GNU_SOURCE
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int uffd_open(char *why, size_t whylen)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int err = errno;
	int dev;

	if (fd >= 0)
		return fd;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			err = errno;
		close(dev);
		if (fd >= 0)
			return fd;
	}
	if (err == ENOSYS)
		snprintf(why, whylen, "kernel built without userfaultfd (CONFIG_USERFAULTFD)");
	else if (err == EPERM || err == EACCES)
		snprintf(why, whylen, "userfaultfd not permitted: run as root or sysctl vm.unprivileged_userfaultfd=1");
	else
		snprintf(why, whylen, "userfaultfd: %s", strerror(err));
	return -1;
}

int uffd_api(int fd, uint64_t features)
{
	struct uffdio_api api = {.api = UFFD_API, .features = features};

	return ioctl(fd, UFFDIO_API, &api) == 0 ? 0 : errno;
}

int uffd_probe(uint64_t *features, char *why, size_t whylen)
{
	static int done;
	static int result;
	static uint64_t cached;
	static char reason[256];

	if (!done) {
		struct uffdio_api api = {.api = UFFD_API, .features = 0};
		int fd = uffd_open(reason, sizeof(reason));
		done = 1;
		result = -1;
		if (fd >= 0) {
			if (ioctl(fd, UFFDIO_API, &api) == 0) {
				cached = api.features;
				result = 0;
			} else {
				snprintf(reason, sizeof(reason), "UFFDIO_API: %s", strerror(errno));
			}
			close(fd);
		}
	}
	*features = cached;
	if (result)
		snprintf(why, whylen, "%s", reason);
	return result;
}

int uffd_read_msg(int fd, int wait_ms, struct uffd_msg *msg)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;
	ssize_t got;

	do
		n = poll(&pfd, 1, wait_ms);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	got = read(fd, msg, sizeof(*msg));
	if (got == (ssize_t)sizeof(*msg))
		return 1;
	if (got < 0 && errno == EAGAIN)
		return 0;
	if (got >= 0)
		errno = EIO;
	return -1;
}
