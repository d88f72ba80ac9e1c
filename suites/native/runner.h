/* Running a plan: needs, one forked process per case, timeouts, crash detection, TAP. */
#ifndef FAULTLINE_RUNNER_H
#define FAULTLINE_RUNNER_H

#include "plan.h"

/* Runs every case; returns 0 when all passed or skipped, else 1. */
int run_plan(const struct plan *p);
#include "tap.h"

/* Fills why with the reason c must be skipped; returns why it skips (SKIP_NONE: it runs). */
enum skip_cause needs_unmet(const struct plan_case *c, char *why, size_t whylen);

#endif
