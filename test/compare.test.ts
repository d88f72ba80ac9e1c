import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { classify, compareKernels, confirmRegression, reportSignature } from '../runner/model/compare.js';
import type { CaseStatus, KernelReport, SkipCause } from '../runner/model/types.js';
import { kernelRecord, result } from './fixtures/model.js';

// The comparison classes as kci-dev and NIPA draw them, and `faultline compare` on saved runs.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const runs = join(import.meta.dirname, 'fixtures', 'runs');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-compare-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const r = (status: CaseStatus, reason: string | null = null, reports?: KernelReport[]) => ({ ...result('k', 's', 'c', status, reason), ...(reports ? { reports } : {}) });

t.test('each pair of statuses has its class', async (t) => {
  const table: [CaseStatus | null, CaseStatus | null, string][] = [
    ['pass', 'fail', 'regression'], ['pass', 'crash', 'regression'], ['pass', 'timeout', 'regression'], ['pass', 'error', 'regression'],
    ['pass', 'skip', 'regression'], ['skip', 'fail', 'regression'], ['skip', 'crash', 'regression'],
    ['fail', 'pass', 'fixed'], ['crash', 'pass', 'fixed'], ['skip', 'pass', 'fixed'],
    ['fail', 'crash', 'still-failing'], ['timeout', 'fail', 'still-failing'],
    ['pass', 'pass', 'unchanged'], ['fail', 'fail', 'unchanged'], ['skip', 'skip', 'unchanged'],
    ['fail', 'skip', 'changed'], [null, 'pass', 'new'], ['pass', null, 'removed'],
  ];
  for (const [b, c, cls] of table) t.equal(classify(b ? r(b) : undefined, c ? r(c) : undefined), cls, `${b} -> ${c}`);
  t.equal(classify(r('fail', 'expected EEXIST, got EAGAIN'), r('fail', 'expected EEXIST, got success')), 'changed', 'same status, another reason');
  const warning = (title: string): KernelReport => ({ kind: 'warning', title, text: title, fatal: false });
  t.equal(classify(r('pass', null, [warning('WARNING: CPU: 0 PID: 39 at mm/userfaultfd.c:140 mfill+0x1f/0x30')]), r('pass', null, [warning('WARNING: CPU: 1 PID: 52 at mm/userfaultfd.c:140 mfill+0x2f/0x30')])), 'unchanged', 'the same report from another boot');
});

t.test('a pass that became a skip: a feature the kernel stopped offering regressed; its release or a missing resource did not', async (t) => {
  const skip = (skipCause?: SkipCause) => ({ ...r('skip', 'why'), ...(skipCause ? { skipCause } : {}) });
  t.equal(classify(r('pass'), skip('feature')), 'regression', 'a feature it stopped offering');
  t.equal(classify(r('pass'), skip()), 'regression', 'a skip whose cause is unknown (a selftest\'s own) counts as today');
  t.equal(classify(r('pass'), skip('release')), 'changed', 'a release gate, decided before the case runs');
  t.equal(classify(r('pass'), skip('resource')), 'changed', 'huge pages, swap or privileges the machine lacks');
  t.equal(classify(skip('resource'), r('fail')), 'regression', 'a skip that became a failure still is one');
  const base = kernelRecord('b', 0);
  const cand = kernelRecord('c', 1);
  const cases = [{ suite: 's', case: 'gated' }, { suite: 's', case: 'hugepages' }, { suite: 's', case: 'lost' }];
  const compared = compareKernels({
    baseline: base,
    candidate: cand,
    order: cases,
    results: [
      ...cases.map((c) => ({ ...result(base.id, c.suite, c.case, 'pass'), kernel: base.id })),
      { ...result(cand.id, 's', 'gated', 'skip', 'needs kernel 6.4 or newer (running 6.1.0)'), skipCause: 'release' as const },
      { ...result(cand.id, 's', 'hugepages', 'skip', 'needs 2 free 2 MiB huge pages (sysctl vm.nr_hugepages=2)'), skipCause: 'resource' as const },
      { ...result(cand.id, 's', 'lost', 'skip', 'kernel lacks UFFD_FEATURE_MINOR_SHMEM'), skipCause: 'feature' as const },
    ],
  });
  t.same(compared.cases.map((c) => `${c.case} ${c.class}`), ['gated changed', 'hugepages changed', 'lost regression'], 'only the feature is a regression, and only it is rerun');
});

t.test('a report the baseline never printed is named, and makes a case that passed on both changed', async (t) => {
  const base = kernelRecord('b', 0);
  const cand = kernelRecord('c', 1);
  const lockdep: KernelReport = { kind: 'lockdep', title: 'WARNING: possible circular locking dependency detected', text: '', fatal: false };
  const comparison = compareKernels({ baseline: base, candidate: cand, results: [result('b', 's', 'c', 'pass'), { ...result('c', 's', 'c', 'pass'), reports: [lockdep] }] });
  t.same(comparison.cases, [{ suite: 's', case: 'c', class: 'changed', baseline: { status: 'pass', reason: null }, candidate: { status: 'pass', reason: null }, newReports: [lockdep.title] }]);
  t.equal(reportSignature('WARNING: CPU: 3 PID: 77 at fs/userfaultfd.c:1940 userfaultfd_ioctl+0x8d/0x2a0'), 'WARNING: CPU PID at fs/userfaultfd.c:1940 userfaultfd_ioctl');
});

t.test('reruns decide between a regression and a flaky case', async (t) => {
  t.equal(confirmRegression(['pass', 'pass', 'pass'], ['fail', 'fail', 'crash']), 'regression', 'every rerun still regressed');
  t.equal(confirmRegression(['pass', 'pass', 'pass'], ['fail', 'pass', 'fail']), 'flaky', 'a rerun passed');
  t.equal(confirmRegression(['pass', 'fail', 'pass'], ['fail', 'fail', 'fail']), 'flaky', 'the baseline failed once too');
  t.equal(confirmRegression(['skip', 'skip'], ['fail', 'skip']), 'flaky');
});

t.test('faultline compare on two saved runs, and on a run.json of version 1', async (t) => {
  const heads = join(runs, 'coin-heads');
  const tails = join(runs, 'coin-tails');
  const out = join(scratch, 'compare.json');
  const worse = await execa('node', [cli, 'compare', heads, tails, '--json', out], { reject: false });
  t.equal(worse.exitCode, 1, worse.stderr);
  t.equal(worse.stdout, '6.1.0-56-cloud-amd64 against 6.1.0-56-cloud-amd64: 1 regression (0 unchanged)\n  regression    coin/toss  pass -> fail  line 6: open: UFFDIO_API: expected errno EINVAL, got success');
  t.match(JSON.parse(readFileSync(out, 'utf8')), { comparisons: [{ counts: { regression: 1 }, cases: [{ case: 'toss', class: 'regression' }] }] });
  const better = await execa('node', [cli, 'compare', tails, join(heads, 'run.json')], { reject: false });
  t.equal(better.exitCode, 0);
  t.match(better.stdout, /: 1 fixed \(0 unchanged\)\n {2}fixed {9}coin\/toss {2}fail -> pass/);
  t.equal((await execa('node', [cli, 'compare', heads, tails, '--fail-on', 'none'], { reject: false })).exitCode, 0, '--fail-on none');
  t.equal((await execa('node', [cli, 'compare', tails, heads, '--fail-on', 'fixed'], { reject: false })).exitCode, 1, '--fail-on fixed');
  const v1 = join(scratch, 'v1.json');
  writeFileSync(v1, JSON.stringify({ version: 1, startedAt: '2026-11-20T00:00:00Z', finishedAt: '2026-11-20T00:01:00Z', command: [], kernels: [{ id: '6.1.0-47-cloud-amd64', release: '6.1.0-47-cloud-amd64', accel: 'tcg' }], results: [result('6.1.0-47-cloud-amd64', 'coin', 'toss', 'pass')], summary: {}, exitCode: 0 }));
  const old = await execa('node', [cli, 'compare', v1, tails], { reject: false });
  t.equal(old.exitCode, 1, old.stderr);
  t.match(old.stdout, /^6\.1\.0-56-cloud-amd64 against 6\.1\.0-47-cloud-amd64: 1 regression/);
  const bad = await execa('node', [cli, 'compare', heads, tails, '--fail-on', 'worse'], { reject: false });
  t.equal(bad.exitCode, 2);
  t.equal(bad.stderr, 'faultline: --fail-on worse: worse is not a class of the comparison\n  Use none, or a list of: regression, flaky, fixed, still-failing, changed, new, removed, unchanged.');
});
