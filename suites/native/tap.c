/* Writes TAP 14 to stdout, flushed per line so a serial console streams it. */
#include "tap.h"

#include <stdio.h>

/* The failing statuses of runner/model/status.ts; an outcome this does not know is an error,
 * never a pass. */
static const char *status_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_FAIL:
		return "fail";
	case OUTCOME_TIMEOUT:
		return "timeout";
	case OUTCOME_CRASH:
		return "crash";
	default:
		return "error";
	}
}

/* A YAML double-quoted scalar. */
static void quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else if ((unsigned char)*s < 0x20)
			printf("\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

void tap_begin(void)
{
	printf("TAP version 14\n");
	fflush(stdout);
}

void tap_suite_begin(const char *suite, int ncases)
{
	printf("# Subtest: %s\n    1..%d\n", suite, ncases);
	fflush(stdout);
}

static const char *skip_cause_name(enum skip_cause cause)
{
	switch (cause) {
	case SKIP_RELEASE:
		return "release";
	case SKIP_FEATURE:
		return "feature";
	case SKIP_RESOURCE:
		return "resource";
	default:
		return NULL;
	}
}

void tap_case(int n, const char *name, enum outcome outcome, enum skip_cause cause, const char *reason, int line, long ms)
{
	if (outcome == OUTCOME_SKIP) {
		/* a newline would end the directive early */
		printf("    ok %d - %s # SKIP ", n, name);
		for (const char *s = reason; *s; s++)
			putchar(*s == '\n' ? ' ' : *s);
		putchar('\n');
		if (skip_cause_name(cause))
			printf("      ---\n      skip: %s\n      ...\n", skip_cause_name(cause));
	} else if (outcome == OUTCOME_PASS) {
		printf("    ok %d - %s # time=%ldms\n", n, name, ms);
	} else {
		printf("    not ok %d - %s # time=%ldms\n      ---\n      status: %s\n      reason: ", n, name, ms,
		       status_name(outcome));
		quoted(reason);
		if (line > 0)
			printf("\n      line: %d", line);
		printf("\n      ...\n");
	}
	fflush(stdout);
}

static void base64(const unsigned char *in, size_t len)
{
	static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
		putchar(digits[v >> 18 & 63]);
		putchar(digits[v >> 12 & 63]);
		putchar(i + 1 < len ? digits[v >> 6 & 63] : '=');
		putchar(i + 2 < len ? digits[v & 63] : '=');
	}
}

void tap_program_case(int n, const char *name, enum outcome outcome, const char *reason, long ms, const char *ended,
		      const unsigned char *out, size_t outlen, size_t dropped)
{
	printf("    %sok %d - %s # time=%ldms\n      ---\n      status: %s\n      reason: ",
	       outcome == OUTCOME_PASS ? "" : "not ", n, name, ms, outcome == OUTCOME_PASS ? "pass" : status_name(outcome));
	quoted(reason);
	printf("\n      ended: ");
	quoted(ended);
	printf("\n      dropped: %zu\n      output: \"", dropped);
	base64(out, outlen);
	printf("\"\n      ...\n");
	fflush(stdout);
}

void tap_suite_end(int n, const char *suite, int ok)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", n, suite);
	fflush(stdout);
}

void tap_end(int nsuites)
{
	printf("1..%d\n", nsuites);
	fflush(stdout);
}
