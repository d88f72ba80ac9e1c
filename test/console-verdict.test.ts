import t from 'tap';
import { matchAllowPattern } from '../runner/console/allow-match.js';
import { defaultConsolePolicy, withReports, type ConsolePolicy } from '../runner/console/verdict.js';
import type { ScannedReport } from '../runner/console/kernel-reports.js';
import type { CaseResult } from '../runner/model/types.js';
import { parseSuite } from '../runner/suite/load.js';

const result = (status: CaseResult['status'], reason: string | null = null): CaseResult => ({ kernel: 'k', suite: 's', case: 'c', status, reason, durationMs: 5 });
const warning: ScannedReport = { kind: 'warning', title: 'WARNING: CPU: 0 PID: 40 at fs/userfaultfd.c:1940 userfaultfd_ioctl+0x1/0x2', text: 'WARNING: CPU: 0 PID: 40 at fs/userfaultfd.c:1940 userfaultfd_ioctl+0x1/0x2\nCall Trace:', fatal: false };
const oops: ScannedReport = { kind: 'oops', title: 'BUG: kernel NULL pointer dereference, address: 0000000000000000', text: 'BUG: kernel NULL pointer dereference\nOops: 0002 [#1] SMP', fatal: true };

t.test('no reports: the case verdict stands untouched', async (t) => {
  const r = result('pass');
  t.equal(withReports(r, [], defaultConsolePolicy), r);
});

t.test('a splat fails a case that passed its own checks, with the splat as the reason', async (t) => {
  const judged = withReports(result('pass'), [warning], defaultConsolePolicy);
  t.equal(judged.status, 'fail');
  t.equal(judged.reason, `kernel warning: ${warning.title}`);
  t.same(judged.reports, [{ kind: 'warning', title: warning.title, text: warning.text, fatal: false }]);
});

t.test('a failing case keeps its own reason first and gains the splat', async (t) => {
  const judged = withReports(result('fail', 'line 9: ioctl: expected len'), [warning, warning], defaultConsolePolicy);
  t.equal(judged.status, 'fail');
  t.equal(judged.reason, `line 9: ioctl: expected len; kernel warning: ${warning.title} (and 1 more report)`);
});

t.test('an oops makes the case a crash whatever it reported', async (t) => {
  for (const status of ['pass', 'fail', 'timeout'] as const) {
    const judged = withReports(result(status, status === 'pass' ? null : 'line 28: ioctl: timed out after 3000ms'), [oops], defaultConsolePolicy);
    t.equal(judged.status, 'crash', status);
    t.match(judged.reason, /^kernel oops: BUG: kernel NULL pointer dereference/);
    if (status !== 'pass') t.match(judged.reason, /; line 28: ioctl: timed out after 3000ms$/);
  }
});

t.test('allow-listed splats keep the case passing and say why', async (t) => {
  const policy: ConsolePolicy = { splats: 'fail', allow: [{ match: /at fs\/userfaultfd\.c:\d+/, reason: 'known: fixed by the next patch' }] };
  const judged = withReports(result('pass'), [warning], policy);
  t.equal(judged.status, 'pass');
  t.equal(judged.reason, null);
  t.equal(judged.reports?.[0]?.allowed, 'known: fixed by the next patch');
  t.equal(withReports(result('pass'), [oops], { ...policy, allow: [{ match: /BUG/, reason: 'x' }] }).status, 'crash', 'an oops cannot be allowed');
});

t.test('console.splats: report records splats without failing', async (t) => {
  const judged = withReports(result('pass'), [warning], { splats: 'report', allow: [] });
  t.equal(judged.status, 'pass');
  t.match(judged.reports?.[0]?.allowed, /console\.splats: report/);
});

t.test('the suite console section: parsed, and bad entries named with their place', async (t) => {
  const steps = 'cases:\n  - name: c\n    steps:\n      - sleep: 1\n';
  const suite = parseSuite('ok.yaml', `console:\n  allow:\n    - match: "WARNING: .* at mm/"\n      reason: known\n${steps}`);
  t.equal(suite.console.splats, 'fail');
  t.ok(suite.console.allow[0]!.match.test('WARNING: CPU: 0 PID: 1 at mm/x.c:1 f'));
  t.equal(parseSuite('plain.yaml', steps).console, defaultConsolePolicy);
  t.throws(() => parseSuite('bad.yaml', `console:\n  allow:\n    - match: "WARNING: (("\n      reason: known\n${steps}`), {
    message: /bad\.yaml:3:\d+: console\.allow\[0\]\.match: expected a regular expression/,
  });
  t.throws(() => parseSuite('bad.yaml', `console:\n  allow:\n    - match: "x"\n${steps}`), { message: /bad\.yaml:3:\d+: console\.allow\[0\]\.reason/ });
  t.throws(() => parseSuite('bad.yaml', `console:\n  splats: ignore\n${steps}`), { message: /bad\.yaml:2:\d+: console\.splats/ });
});

t.test('a suite named by its file: only names the case marks can carry', async (t) => {
  const steps = 'cases:\n  - name: c\n    steps:\n      - sleep: 1\n';
  t.throws(() => parseSuite('/x/uffd+wp.yaml', steps), { message: /uffd\+wp\.yaml:1:1: .*the file name gives the suite name "uffd\+wp".*add a `suite:` name/ });
  t.equal(parseSuite('/x/uffd+wp.yaml', `suite: uffd-wp\n${steps}`).name, 'uffd-wp');
});

t.test('allow patterns match any line of the report, so ^ anchors work', async (t) => {
  const suite = parseSuite('a.yaml', 'console:\n  allow:\n    - match: "^WARNING: CPU: \\\\d+ PID: \\\\d+ at fs/userfaultfd"\n      reason: known\ncases:\n  - name: c\n    steps:\n      - sleep: 1\n');
  const judged = withReports(result('pass'), [{ ...warning, text: `faultline fixture: a WARN() message\n${warning.text}` }], suite.console);
  t.equal(judged.status, 'pass');
  t.equal(judged.reports?.[0]?.allowed, 'known');
});

t.test('an allow pattern that backtracks without end is set aside in bounded time, and the next rule still applies', async (t) => {
  const words = 'WARNING: CPU: 0 PID: 40 at fs/userfaultfd.c:1940 userfaultfd_ioctl and a long line of plain words follows here';
  const splat: ScannedReport = { ...warning, text: words };
  const runaway = /(\w+\s?)+QQQ/m;
  const policy: ConsolePolicy = { splats: 'fail', allow: [{ match: runaway, reason: 'never' }, { match: /userfaultfd_ioctl/, reason: 'known' }] };
  const started = performance.now();
  const judged = withReports(result('pass'), [splat], policy);
  const first = performance.now() - started;
  t.ok(first < 1000, `judged in ${Math.round(first)} ms`);
  t.equal(judged.status, 'pass', 'the second rule allows it');
  t.same(judged.reports, [{ ...splat, allowed: 'known', allowSkipped: 'allow pattern /(\\w+\\s?)+QQQ/ not applied: it runs over 100 ms on a report (catastrophic backtracking); simplify it' }]);
  t.equal(matchAllowPattern(runaway, 'QQQ'), 'gave-up', 'a pattern set aside is not tried again, even where it would match at once');
  const alone = withReports(result('pass'), [splat], { splats: 'fail', allow: [{ match: runaway, reason: 'never' }] });
  t.equal(alone.status, 'fail');
  t.equal(alone.reason, `kernel warning: ${warning.title}; allow pattern /(\\w+\\s?)+QQQ/ not applied: it runs over 100 ms on a report (catastrophic backtracking); simplify it`);
});
