/* Executing one case's steps inside the forked case process. */
#ifndef FAULTLINE_CASE_H
#define FAULTLINE_CASE_H

#include "plan.h"
#include "tap.h"

/* Shared (MAP_SHARED) between the helper and the case process, so the helper can tell which
 * step a killed or crashed case was in. */
struct case_shared {
	volatile int line;      /* YAML line of the current step, 0 before the first */
	char op[24];
	volatile int outcome;   /* -1 until the case process reports PASS, FAIL or SKIP */
	volatile int skip_cause; /* enum skip_cause, with SKIP */
	char reason[1024];
};

/* Runs c's steps in the calling (case) process; returns OUTCOME_PASS, _FAIL or _SKIP with the
 * reason in sh->reason. */
enum outcome case_execute(const struct plan_case *c, struct case_shared *sh);

#endif
