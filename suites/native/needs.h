/* Whether a case's needs (kernel release, huge pages, uffd features, swap) are met here. */
#ifndef FAULTLINE_NEEDS_H
#define FAULTLINE_NEEDS_H

#include <stddef.h>

#include "plan.h"
#include "tap.h"

/* Fills why with the reason c must be skipped; returns why it skips (SKIP_NONE: it runs). */
enum skip_cause needs_unmet(const struct plan_case *c, char *why, size_t whylen);

#endif
