import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import * as vocabulary from '../runner/suite/vocabulary.js';
import { reportedFailures } from '../runner/model/status.js';
import { skipCauses } from '../runner/model/types.js';
import { agentReadyLine, caseMarkText, isAgentReady, markPrefix, parseAgentDone, parseCaseMark, parseProgramLine, parseTaskMark, programLinePrefix, programLineText, taskMarkText } from '../runner/protocol/guest.js';

// The case language's names live in runner/suite/vocabulary.ts; the helper's C tables and the
// plan format page must say exactly the same, so a name added on one side and not the other
// fails here instead of as a plan the helper rejects in a guest.
const native = join(import.meta.dirname, '..', 'suites', 'native');
const namesC = readFileSync(join(native, 'names.c'), 'utf8');
const planC = readFileSync(join(native, 'plan.c'), 'utf8');
const planFormat = readFileSync(join(native, 'PLAN-FORMAT.md'), 'utf8');

/** The names of a `const struct name_value NAME[] = { {"A", ...}, ... }` table. */
function cTable(text: string, name: string): string[] {
  const body = new RegExp(`struct name_value ${name}\\[\\] = \\{([\\s\\S]*?)\\n\\};`).exec(text)?.[1];
  if (!body) throw new Error(`no table ${name}`);
  return [...body.matchAll(/\{"([A-Z0-9_]+)",/g)].map((m) => m[1]!);
}

/** The choices of an enum key in plan.c's op schema: {"key", K_ENUM, ..., "a|b|c", ...}. */
function cChoices(op: string, key: string): string[] {
  const spec = new RegExp(`\\{"${key}", K_ENUM, \\d, "([^"]+)"`).exec(planC.slice(planC.indexOf(`{"${op}",`)))?.[1];
  if (!spec) throw new Error(`no ${op}.${key} in plan.c`);
  return spec.split('|');
}

const sorted = (names: readonly string[]) => [...names].sort();

t.test('every C table names exactly what the TypeScript vocabulary does', async (t) => {
  t.same(cTable(namesC, 'feature_names'), [...vocabulary.featureNames], 'features, in bit order');
  t.same(cTable(namesC, 'register_modes'), [...vocabulary.registerModes], 'register modes');
  t.same(cTable(namesC, 'fault_flags'), [...vocabulary.faultFlags], 'fault flags');
  t.same(cTable(namesC, 'ioctl_numbers'), [...vocabulary.ioctlNames], 'ioctl names');
  t.same(cTable(namesC, 'event_types'), [...vocabulary.eventTypes], 'event types');
  t.same(sorted(cTable(namesC, 'errno_names')), sorted(vocabulary.errnoNames), 'errnos');
  t.equal(new Set(vocabulary.errnoNames).size, vocabulary.errnoNames.length, 'no errno twice');
  t.same(cTable(planC, 'ioctl_modes'), [...vocabulary.ioctlModes], 'ioctl modes');
  t.same(cChoices('ioctl', 'op'), [...vocabulary.ioctlOps], 'ioctl ops');
  t.same(cChoices('madvise', 'advice'), [...vocabulary.madviseAdvice], 'madvise advice');
  t.same(cChoices('map', 'backend'), [...vocabulary.backends], 'backends');
});

t.test('the helper\'s ranges are the ones suites are checked against', async (t) => {
  t.match(planC, `n > 0x${vocabulary.planNumberMax.toString(16)}ULL`, 'numbers');
  t.match(planC, `ms > ${vocabulary.planTimeoutMaxMs})`, 'case timeout');
  t.match(readFileSync(join(native, 'plan.h'), 'utf8'), `#define PLAN_NAME_MAX ${vocabulary.planNameMax + 1}`, 'names, with their NUL');
});

t.test('the plan format page lists the same errnos', async (t) => {
  const listed = /Errno names: ([A-Z0-9 \n]+)\./.exec(planFormat)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
  t.same(sorted(listed), sorted(vocabulary.errnoNames));
});

t.test('the helper names only the failing statuses the host reads, and an unknown outcome is an error', async (t) => {
  const tapC = readFileSync(join(native, 'tap.c'), 'utf8');
  const body = /static const char \*status_name\(enum outcome o\)\n\{([\s\S]*?)\n\}/.exec(tapC)?.[1] ?? '';
  const named = [...body.matchAll(/return "([a-z]+)";/g)].map((m) => m[1]!);
  t.same(sorted(named), sorted(reportedFailures), 'fail, timeout, crash and the default');
  t.match(body, /default:\s*return "error";/, 'the default is an error');
});

t.test('the guest agent and the helper print the protocol the host reads', async (t) => {
  const init = readFileSync(join(import.meta.dirname, '..', 'images', 'guest', 'init'), 'utf8');
  const runnerC = readFileSync(join(native, 'runner.c'), 'utf8');
  t.match(init, `echo "${agentReadyLine}"`, 'the agent\'s ready line');
  const done = /echo "(faultline: agent done rc=)\$rc"/.exec(init);
  t.ok(done, 'the agent\'s last line');
  t.equal(parseAgentDone(`${done?.[1]}3`), 3);
  const mainC = readFileSync(join(native, 'main.c'), 'utf8');
  t.match(init, /^\/faultline\/helper reboot$/m, 'the agent ends the guest through the helper');
  t.match(mainC, /!strcmp\(argv\[1\], "reboot"\)[\s\S]*?reboot\(RB_AUTOBOOT\)/, 'which the helper does');
  t.match(runnerC, `kmsg_line("${markPrefix}case %s/%s %s\\n", c->suite, c->name, what)`, 'the helper\'s case marks');
  t.match(runnerC, `kmsg_line("${programLinePrefix}[%s/%s] %.*s\\n", cap->c->suite, cap->c->name,`, 'the helper\'s program lines, tagged with their case');
  t.match(runnerC, `kmsg_line("${markPrefix}case %s/%s task %ld\\n", c->suite, c->name, pid)`, 'the helper\'s task marks');
  const ref = { suite: 'minor-faults', case: 'read-minor-continue-shmem' };
  t.same(parseCaseMark(caseMarkText(ref, 'end')), { ref, edge: 'end' });
  t.equal(parseCaseMark(`${programLinePrefix}echo ${caseMarkText(ref, 'end')}`), null, 'a program line that ends in a mark is no mark');
  t.equal(parseCaseMark('faultline: case a b/c begin'), null);
  t.same(parseTaskMark(taskMarkText(ref, 42)), { ref, pid: 42 });
  t.same(parseProgramLine(programLineText(ref, '[ok] x/y: 1')), { ref, line: '[ok] x/y: 1' }, 'the tag, then the line as printed');
  t.same(parseProgramLine(`${programLinePrefix}Testing minor on shmem... done`), { ref: null, line: 'Testing minor on shmem... done' }, 'a line from a helper that named no case');
  t.ok(isAgentReady(`${agentReadyLine}  `));
  t.equal(parseAgentDone('x faultline: agent done rc=0'), null, 'anchored');
});

t.test('the helper names the skip causes the host reads', async (t) => {
  const tapC = readFileSync(join(native, 'tap.c'), 'utf8');
  const body = /static const char \*skip_cause_name\(enum skip_cause cause\)\n\{([\s\S]*?)\n\}/.exec(tapC)?.[1] ?? '';
  t.same([...body.matchAll(/return "([a-z]+)";/g)].map((m) => m[1]!), [...skipCauses]);
});
