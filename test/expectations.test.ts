import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { globMatch } from '../runner/core/glob.js';
import { applyExpectations } from '../runner/expect/apply.js';
import { loadExpectations } from '../runner/expect/load.js';
import { verdictOf } from '../runner/model/summary.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';
import { rejectsExactly } from './fixtures/errors.js';

// Known failures with a fixed clock: what an entry matches, when it expires, when it is stale,
// and the exact messages for a malformed file.
const dir = mkdtempSync(join(tmpdir(), 'faultline-expect-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'known-failures.yaml');
writeFileSync(
  file,
  [
    '# known failures of the 6.1 series',
    '- case: minor-faults/continue-mapped-*',
    '  kernel: "6.1.*"',
    '  status: fail',
    '  reason: EAGAIN instead of EEXIST, fixed upstream by the v2 series',
    '  until: 2026-12-31',
    '  url: https://lore.kernel.org/example',
    '- case: continue-dontwake-eexist-no-wake-shmem',
    '  status: crash',
    '  reason: an old oops, long gone',
    '  until: 2026-01-31',
    '- case: read-minor-continue-shmem',
    '  status: fail',
    '  reason: was flaky once',
    '- case: no-such-case',
    '  status: timeout',
    '  reason: a typo in the case name',
    '',
  ].join('\n'),
);
const k61 = kernelRecord('deb-61', 0, { label: '6.1.0-56-cloud-amd64', release: '6.1.0-56-cloud-amd64' });
const cases = ['continue-mapped-eexist-shmem', 'continue-dontwake-eexist-no-wake-shmem', 'read-minor-continue-shmem'].map((c) => ({ suite: 'minor-faults', case: c }));
const run = () =>
  modelOf({
    kernels: [k61],
    cases,
    results: [
      result('deb-61', 'minor-faults', 'continue-mapped-eexist-shmem', 'fail', 'expected errno EEXIST, got EAGAIN'),
      result('deb-61', 'minor-faults', 'continue-dontwake-eexist-no-wake-shmem', 'crash', 'kernel oops'),
      result('deb-61', 'minor-faults', 'read-minor-continue-shmem', 'pass'),
    ],
  }).model;

t.test('entries load with where they were written', async (t) => {
  const entries = loadExpectations(file);
  t.same(entries.map((e) => [e.case, e.kernel, e.status, e.until, e.at]), [
    ['minor-faults/continue-mapped-*', '6.1.*', 'fail', '2026-12-31', `${file}:2`],
    ['continue-dontwake-eexist-no-wake-shmem', null, 'crash', '2026-01-31', `${file}:8`],
    ['read-minor-continue-shmem', null, 'fail', null, `${file}:12`],
    ['no-such-case', null, 'timeout', null, `${file}:15`],
  ]);
});

t.test('on 2026-11-28: matched, expired, stale; the known failure does not fail the run', async (t) => {
  const model = run();
  const outcome = applyExpectations(model, { entries: loadExpectations(file), strict: false, now: new Date('2026-11-28T12:00:00Z') });
  t.same(model.results[0]!.expected, { reason: 'EAGAIN instead of EEXIST, fixed upstream by the v2 series', entry: `${file}:2`, url: 'https://lore.kernel.org/example', until: '2026-12-31' });
  t.equal(model.results[1]!.expected, undefined, 'an expired entry no longer applies');
  t.same(outcome.expired, [`${file}:8: continue-dontwake-eexist-no-wake-shmem (until 2026-01-31)`]);
  t.same(outcome.stale, [
    { at: `${file}:12`, why: 'read-minor-continue-shmem passed' },
    { at: `${file}:15`, why: 'no-such-case matched no result' },
  ]);
  model.expectations = outcome;
  t.same(verdictOf(model), { exitCode: 1, why: ['1 case did not pass'] }, 'the crash the expired entry no longer covers fails the run; the known fail does not');
});

t.test('an entry applies through its last day, and not a moment after', async (t) => {
  const entries = loadExpectations(file);
  const on = run();
  applyExpectations(on, { entries, strict: false, now: new Date('2026-12-31T23:59:59Z') });
  t.equal(on.results[0]!.expected?.entry, `${file}:2`, 'on its until date');
  const after = run();
  const outcome = applyExpectations(after, { entries, strict: false, now: new Date('2027-01-01T00:00:00Z') });
  t.equal(after.results[0]!.expected, undefined, 'the day after');
  t.same(outcome.expired, [`${file}:2: minor-faults/continue-mapped-* on 6.1.* (until 2026-12-31)`, `${file}:8: continue-dontwake-eexist-no-wake-shmem (until 2026-01-31)`]);
});

t.test('--strict-expect: a stale entry fails the run', async (t) => {
  const model = run();
  model.results = model.results.filter((r) => r.status !== 'crash');
  model.expectations = applyExpectations(model, { entries: loadExpectations(file), strict: true, now: new Date('2026-11-28T12:00:00Z') });
  t.same(verdictOf(model), { exitCode: 1, why: ['2 stale expectations (--strict-expect)'] });
});

t.test('a kernel glob matches the label, the release or the spec; * and ? as in a shell', async (t) => {
  t.ok(globMatch('6.1.*', '6.1.0-56-cloud-amd64'));
  t.notOk(globMatch('6.1.*', '6.12.117+deb12-cloud-amd64'), '6.1.* is not 6.12');
  t.ok(globMatch('minor-faults/continue-?apped-*', 'minor-faults/continue-mapped-eexist-shmem'));
  t.notOk(globMatch('continue', 'continue-mapped'), 'whole names, not substrings');
  const model = run();
  const elsewhere = applyExpectations(model, { entries: loadExpectations(file).map((e) => ({ ...e, kernel: e.kernel ? '6.12.*' : null })), strict: true, now: new Date('2026-11-28T12:00:00Z') });
  t.equal(model.results[0]!.expected, undefined, 'another kernel\'s known failure is not this one\'s');
  t.same(elsewhere.deferred, [{ at: `${file}:2`, why: 'minor-faults/continue-mapped-* on 6.12.*: no kernel this run booted matches 6.12.*' }], 'and a run that booted none of its kernels cannot judge it: not stale, even with --strict-expect');
  // Each of the three names on its own: a kernel whose label, release and spec all differ.
  const other = kernelRecord('deb-61', 0, { label: 'tree+2', release: '6.1.0-56-cloud-amd64', spec: 'debian:linux-image-6.1.0-56-cloud-amd64' });
  for (const glob of ['tree+?', '6.1.0-*', 'debian:*']) {
    const m = modelOf({ kernels: [other], cases, results: [result('deb-61', 'minor-faults', 'continue-mapped-eexist-shmem', 'fail', 'EAGAIN')] }).model;
    applyExpectations(m, { entries: loadExpectations(file).slice(0, 1).map((e) => ({ ...e, kernel: glob })), strict: false, now: new Date('2026-11-28T12:00:00Z') });
    t.equal(m.results[0]!.expected?.entry, `${file}:2`, `kernel: "${glob}" matches`);
  }
});

t.test('an entry whose case ended otherwise is stale, saying how it ended', async (t) => {
  const model = run();
  const outcome = applyExpectations(model, { entries: loadExpectations(file).slice(0, 1).map((e) => ({ ...e, status: 'crash' as const })), strict: false, now: new Date('2026-11-28T12:00:00Z') });
  t.equal(model.results[0]!.expected, undefined, 'a fail is not the crash the entry knows');
  t.same(outcome.stale, [{ at: `${file}:2`, why: 'minor-faults/continue-mapped-* on 6.1.* ended fail, not crash' }]);
});

t.test('malformed expectation files: file:line:column and the fix, exit 2', async (t) => {
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const hint = 'Fix the expectation file; the README ("Known failures") describes its keys: case, kernel, status, reason, until, url.';
  const bad = write('bad.yaml', '- case: a\n  status: broken\n  reason: x\n- case: b\n  status: fail\n  until: 2026-02-30\n  reason: y\n- case: c\n  status: fail\n  resaon: z\n');
  await rejectsExactly(t, Promise.resolve().then(() => loadExpectations(bad)), {
    kind: 'suite',
    exitCode: 2,
    message: [
      `${bad} has 4 errors:`,
      `  ${bad}:2:11: [0].status: expected one of fail, skip, timeout, crash, error; got "broken"`,
      `  ${bad}:6:10: [1].until: not a calendar date; got "2026-02-30"`,
      `  ${bad}:8:3: [2].reason: required (a string)`,
      `  ${bad}:10:3: [2].resaon: unknown key "resaon" (allowed: case, kernel, status, reason, until, url)`,
    ].join('\n'),
    hint,
  });
  const notList = write('map.yaml', 'case: a\nstatus: fail\n');
  await rejectsExactly(t, Promise.resolve().then(() => loadExpectations(notList)), {
    message: `${notList} has an error:\n  ${notList}:1:1: an expectation file is a list of entries (- case: ..., status: ..., reason: ...)`,
    hint,
  });
  await rejectsExactly(t, Promise.resolve().then(() => loadExpectations(join(dir, 'none.yaml'))), {
    kind: 'usage',
    message: `cannot read expectation file ${join(dir, 'none.yaml')}: ENOENT (no such file or directory)`,
    hint: 'Give an existing YAML file with --expect.',
  });
});
