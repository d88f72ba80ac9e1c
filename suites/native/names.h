/* Name <-> value tables for the plan's symbolic values: features, modes, flags, errnos. */
#ifndef FAULTLINE_NAMES_H
#define FAULTLINE_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct name_value {
	const char *name;
	uint64_t value;
};

extern const struct name_value feature_names[];    /* UFFD_FEATURE_ suffixes */
extern const struct name_value register_modes[];   /* UFFDIO_REGISTER_MODE_ suffixes */
extern const struct name_value fault_flags[];      /* UFFD_PAGEFAULT_FLAG_ suffixes */
extern const struct name_value ioctl_numbers[];    /* UFFDIO_ suffixes -> _UFFDIO_ numbers */
extern const struct name_value event_types[];      /* UFFD_EVENT_ suffixes */
extern const struct name_value errno_names[];
extern const struct name_value signal_names[];

/* Looks NAME up; returns 0 and sets *out when found. */
int name_lookup(const struct name_value *table, const char *name, uint64_t *out);
/* The name of VALUE, or NULL. */
const char *name_of(const struct name_value *table, uint64_t value);
/* Parses "A|B|C" or "0" into a bit set; on failure copies the bad name into bad. */
int flags_parse(const struct name_value *table, const char *text, uint64_t *out, char *bad, size_t badlen);
/* Formats a bit set as "A|B" (or "0") into buf. */
const char *flags_format(const struct name_value *table, uint64_t bits, char *buf, size_t len);
/* "EEXIST", or "errno 123" for an unknown number (static storage for the latter). */
const char *errno_name(int err);
const char *signal_name(int sig);
/* Parses a decimal or 0x-hex unsigned number; returns 0 on success. */
int number_parse(const char *text, uint64_t *out);

#endif
