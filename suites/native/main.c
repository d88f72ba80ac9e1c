/* faultline-helper: `run PLAN` executes a case plan and prints TAP 14; `probe` reports the
 * kernel release and its userfaultfd features; `reboot` ends the guest. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/reboot.h>
#include <sys/utsname.h>

#include "plan.h"
#include "runner.h"
#include "uffd.h"

static int usage(void)
{
	fprintf(stderr, "usage: faultline-helper run PLAN\n       faultline-helper probe\n       faultline-helper reboot\n");
	return 2;
}

static int probe(void)
{
	struct utsname u;
	uint64_t features = 0;
	char why[256];
	int bad;

	uname(&u);
	bad = uffd_probe(&features, why, sizeof(why));
	printf("kernel=%s features=0x%llx uffd=%s\n", u.release, (unsigned long long)features, bad ? why : "ok");
	return 0;
}

int main(int argc, char **argv)
{
	struct plan plan;
	char err[512];

	if (argc == 2 && !strcmp(argv[1], "probe"))
		return probe();
	/* Every userland has the helper, not always a reboot command (Debian minbase has none) nor
	 * the kernel's sysrq (tinyconfig); QEMU's -no-reboot makes this its exit. */
	if (argc == 2 && !strcmp(argv[1], "reboot")) {
		sync();
		reboot(RB_AUTOBOOT);
		perror("faultline-helper: reboot");
		return 1;
	}
	if (argc != 3 || strcmp(argv[1], "run") != 0)
		return usage();
	if (plan_load(argv[2], &plan, err, sizeof(err)) != 0) {
		fprintf(stderr, "faultline-helper: malformed plan %s: %s\n", argv[2], err);
		return 2;
	}
	return run_plan(&plan);
}
