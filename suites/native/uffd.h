/* Opening userfaultfd descriptors and reading their messages. */
#ifndef FAULTLINE_UFFD_H
#define FAULTLINE_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* A non-blocking uffd from the syscall, else from /dev/userfaultfd. On failure returns -1 and
 * writes why it is unusable (with the fix) into why. */
int uffd_open(char *why, size_t whylen);
/* The kernel's feature set, from UFFDIO_API on a throwaway descriptor (UFFDIO_API works once per
 * descriptor). Returns 0, or -1 with the reason in why. Cached after the first call. */
int uffd_probe(uint64_t *features, char *why, size_t whylen);
/* UFFDIO_API with FEATURES; returns 0 or the errno. */
int uffd_api(int fd, uint64_t features);
/* Waits up to wait_ms for one message: 1 = got one, 0 = none, -1 = error (errno set). */
int uffd_read_msg(int fd, int wait_ms, struct uffd_msg *msg);

#endif
