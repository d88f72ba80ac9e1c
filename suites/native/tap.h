/* TAP 14 output: one subtest per suite, one test point per case. */
#ifndef FAULTLINE_TAP_H
#define FAULTLINE_TAP_H

#include <stddef.h>

enum outcome { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP, OUTCOME_TIMEOUT, OUTCOME_CRASH };
/* Why a case skipped (runner/model/status.ts's skip causes): its kernel release is too old, the
 * kernel does not offer a feature it needs, or the machine lacks a resource (huge pages, swap,
 * permission to use userfaultfd). */
enum skip_cause { SKIP_NONE, SKIP_RELEASE, SKIP_FEATURE, SKIP_RESOURCE };

void tap_begin(void);
void tap_suite_begin(const char *suite, int ncases);
/* line: the plan line (the YAML line of the step) the case was in when it failed; 0 if none. */
void tap_case(int n, const char *name, enum outcome outcome, enum skip_cause cause, const char *reason, int line, long ms);
/* A program case's point: its outcome, how it ended and everything it printed (base64), so the
 * host parses the program's own output format. */
void tap_program_case(int n, const char *name, enum outcome outcome, const char *reason, long ms, const char *ended,
		      const unsigned char *out, size_t outlen, size_t dropped);
void tap_suite_end(int n, const char *suite, int ok);
void tap_end(int nsuites);

#endif
