/* The plan (PLAN-FORMAT.md): parsed and fully validated before any case runs, so a malformed
 * plan is reported with its line and nothing executes. */
#ifndef FAULTLINE_PLAN_H
#define FAULTLINE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "names.h"

#define PLAN_MAX_KV 16
#define PLAN_NAME_MAX 128
#define PLAN_MAX_ARGS 16
#define PLAN_ARG_MAX 256

struct kv {
	char key[24];
	char val[104];
};

struct step {
	int plan_line;   /* line in the plan file */
	int line;        /* line= : the YAML step it came from */
	char op[24];
	int nkv;
	struct kv kv[PLAN_MAX_KV];
};

struct need {
	char key[24];
	char val[104];
};

struct plan_case {
	char suite[PLAN_NAME_MAX];
	char name[PLAN_NAME_MAX];
	int plan_line;
	int timeout_ms;
	int alone;       /* `alone`: no other case runs beside it */
	int nneeds;
	struct need *needs;
	int nsteps;
	struct step *steps;
	/* A program case (`exec` and `arg` lines): run argv in cwd instead of steps. */
	int nargs;
	char cwd[PLAN_ARG_MAX];
	char argv[PLAN_MAX_ARGS][PLAN_ARG_MAX];
	/* `scratch PATH`: a file the program makes (on hugetlbfs it holds huge pages), removed before and after. */
	char scratch[PLAN_ARG_MAX];
};

#define PLAN_MAX_WORKERS 64

struct plan {
	int workers;     /* `workers N`: how many cases may run at once (1 unless given) */
	int ncases;
	struct plan_case *cases;
};

/* Reads and validates PATH. On error returns -1 with "LINE: message" in err. */
int plan_load(const char *path, struct plan *out, char *err, size_t errlen);

/* Accessors for validated steps (values were checked at load time). */
const char *step_str(const struct step *s, const char *key);
uint64_t step_num(const struct step *s, const char *key, uint64_t dflt);
int step_has(const struct step *s, const char *key);
uint64_t step_flags(const struct step *s, const char *key, const struct name_value *table);
/* errno expected by the step: 0 (success) unless expect_errno is given */
int step_errno(const struct step *s);

#endif
