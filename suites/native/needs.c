/* A case's `needs` lines, checked on the machine it is about to run on. */
#include "needs.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "region.h"
#include "uffd.h"

static int swap_active(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[512];
	int lines = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1; /* the first line is the header */
}

enum skip_cause needs_unmet(const struct plan_case *c, char *why, size_t whylen)
{
	for (int i = 0; i < c->nneeds; i++) {
		const struct need *n = &c->needs[i];
		if (!strcmp(n->key, "kernel")) {
			struct utsname u;
			int maj = 0, min = 0, wmaj = 0, wmin = 0;
			uname(&u);
			sscanf(u.release, "%d.%d", &maj, &min);
			sscanf(n->val, "%d.%d", &wmaj, &wmin);
			if (maj < wmaj || (maj == wmaj && min < wmin))
				return snprintf(why, whylen, "needs kernel %s or newer (running %s)", n->val, u.release), SKIP_RELEASE;
		} else if (!strcmp(n->key, "hugepages")) {
			uint64_t want = 0;
			long total;
			number_parse(n->val, &want);
			if (hugepages_available(&total) < (long)want)
				return hugepages_reason((long)want, why, whylen), SKIP_RESOURCE;
		} else if (!strcmp(n->key, "feature")) {
			uint64_t have, bit = 0;
			char reason[256];
			int named = name_lookup(feature_names, n->val, &bit) == 0;
			if (!named)
				number_parse(n->val, &bit);
			if (uffd_probe(&have, reason, sizeof(reason)))
				return snprintf(why, whylen, "%s", reason), SKIP_RESOURCE;
			if ((have & bit) != bit || !bit)
				return snprintf(why, whylen, named ? "kernel lacks UFFD_FEATURE_%s" : "kernel lacks uffd feature bits %s", n->val), SKIP_FEATURE;
		} else if (!strcmp(n->key, "swap")) {
			if (!swap_active())
				return snprintf(why, whylen, "needs active swap, none in /proc/swaps (swapon a swap "
					 "device or file)"), SKIP_RESOURCE;
		}
	}
	return SKIP_NONE;
}
