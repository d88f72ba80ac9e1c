import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { applyExpectations } from '../runner/expect/apply.js';
import { loadExpectations } from '../runner/expect/load.js';
import { runDocument } from '../runner/model/document.js';
import { verdictOf } from '../runner/model/summary.js';
import { rejectsExactly } from './fixtures/errors.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';
import { assertRunValid, runSchemaErrors } from './fixtures/run-schema.js';

// --strict-expect fails a run only for entries it could judge: a shard leaves the cases of other
// shards to `merge`, `--case` leaves out what it did not plan; a `status: skip` entry is refused
// where it is written (a skip never fails a run, so it could never apply); an entry shadowed by
// an earlier one says by which.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'faultline-expect-strict-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const now = new Date('2026-11-28T12:00:00Z');

const write = (name: string, lines: string[]) => {
  writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
  return join(dir, name);
};
const entry = (name: string, status = 'fail') => [`- case: ${name}`, `  status: ${status}`, '  reason: known'];
const host = kernelRecord('host-1', 0, { label: 'host', spec: 'host', accel: 'host' });
const cases = [{ suite: 's', case: 'a' }, { suite: 's', case: 'b' }];

t.test('a shard judges only its share: an entry for the other shard\'s cases is deferred to merge', async (t) => {
  const file = write('shard.yaml', [...entry('a'), ...entry('b'), ...entry('s/zz*')]);
  // Shard 2/2 of two cases on one kernel runs b alone.
  const model = modelOf({ kernels: [host], cases, results: [result(host.id, 's', 'b', 'pass')] }).model;
  model.shard = { index: 2, count: 2 };
  model.expectations = applyExpectations(model, { entries: loadExpectations(file), strict: true, now });
  t.same(model.expectations.deferred, [{ at: `${file}:1`, why: 'a: its cases are in other shards; faultline merge judges it' }]);
  t.same(model.expectations.stale, [
    { at: `${file}:4`, why: 'b passed' },
    { at: `${file}:7`, why: 's/zz* matched no result' },
  ], 'what the shard ran, and what no shard plans, are judged here');
  t.same(verdictOf(model), { exitCode: 1, why: ['2 stale expectations (--strict-expect)'] });
  t.same(runSchemaErrors(JSON.parse(runDocument(model))), [], 'run.json keeps the deferred entries');

  const shard1 = modelOf({ kernels: [host], cases, results: [result(host.id, 's', 'a', 'fail', 'EEXIST')] }).model;
  shard1.shard = { index: 1, count: 2 };
  const first = applyExpectations(shard1, { entries: loadExpectations(file).slice(0, 2), strict: true, now });
  t.same([first.stale, first.deferred], [[], [{ at: `${file}:4`, why: 'b: its cases are in other shards; faultline merge judges it' }]], 'shard 1 uses a and leaves b');
  shard1.expectations = first;
  t.same(verdictOf(shard1), { exitCode: 0, why: [] });
});

t.test('with --case, an entry no planned case matches is not judged', async (t) => {
  const file = write('filtered.yaml', [...entry('a'), ...entry('b')]);
  const model = modelOf({ kernels: [host], cases: cases.slice(1), results: [result(host.id, 's', 'b', 'fail', 'EEXIST')] }).model;
  model.expectations = applyExpectations(model, { entries: loadExpectations(file), strict: true, now, caseFilter: ['b'] });
  t.same(model.expectations.deferred, [{ at: `${file}:1`, why: 'a: no case this run planned matches it (--case b)' }]);
  t.same(model.expectations.stale, []);
  t.same(model.expectations.caseFilter, ['b'], 'run.json keeps the filter, so a reparse judges as the run did');
  t.same(runSchemaErrors(JSON.parse(runDocument(model))), []);
  t.same(verdictOf(model), { exitCode: 0, why: [] });
  const whole = modelOf({ kernels: [host], cases: cases.slice(1), results: [result(host.id, 's', 'b', 'fail', 'EEXIST')] }).model;
  t.same(applyExpectations(whole, { entries: loadExpectations(file), strict: true, now }).stale, [{ at: `${file}:1`, why: 'a matched no result' }], 'without --case the same entry is stale');
});

t.test('an entry shadowed by an earlier one says by which', async (t) => {
  const first = write('first.yaml', entry('a'));
  const second = write('second.yaml', ['# the same known failure again', ...entry('s/a'), ...entry('a', 'crash')]);
  const model = modelOf({ kernels: [host], cases, results: [result(host.id, 's', 'a', 'fail', 'EEXIST'), result(host.id, 's', 'b', 'pass')] }).model;
  const outcome = applyExpectations(model, { entries: [...loadExpectations(first), ...loadExpectations(second)], strict: true, now });
  t.equal(model.results[0]!.expected?.entry, `${first}:1`, 'the first entry accepts it');
  t.same(outcome.stale, [
    { at: `${second}:2`, why: `s/a is shadowed by ${first}:1: that entry accepts the same results first` },
    { at: `${second}:5`, why: 'a ended fail, not crash' },
  ]);
});

t.test('status: skip is refused where it is written, exit 2', async (t) => {
  const file = write('skip.yaml', [...entry('a'), ...entry('b', 'skip')]);
  await rejectsExactly(t, Promise.resolve().then(() => loadExpectations(file)), {
    kind: 'suite',
    exitCode: 2,
    message: `${file} has an error:\n  ${file}:5:11: [1].status: a skip never fails the run, so an entry cannot accept one; expect fail, timeout, crash or error, or remove the entry; got "skip"`,
    hint: 'Fix the expectation file; the README ("Known failures") describes its keys: case, kernel, status, reason, until, url.',
  });
});

// Through the CLI on the running kernel: the shmem case fails there (the suite claims success
// where a correct kernel says EEXIST); `sleeps` passes.
const suite = join(root, 'test', 'fixtures', 'suites', 'wrong-expectation.yaml');
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const asRoot = process.getuid?.() === 0;

t.test('faultline run --strict-expect: shards, --case, skip and duplicate entries', { skip: asRoot ? false : 'the failing case needs userfaultfd on the host, which root has' }, async (t) => {
  const known = write('known.yaml', entry('wrong-expectation/continue-mapped-claims-success-shmem'));
  const deferred = `note: expectation ${known}:1 not judged here: wrong-expectation/continue-mapped-claims-success-shmem`;

  const shard2 = await faultline(['run', '--kernel', 'host', '--suite', suite, '--shard', '2/2', '--expect', known, '--strict-expect', '--results', join(dir, 's2')]);
  t.equal(shard2.exitCode, 0, shard2.stdout + shard2.stderr);
  t.ok(shard2.stdout.split('\n').includes(`${deferred}: its cases are in other shards; faultline merge judges it`), shard2.stdout);
  t.match(assertRunValid(t, join(dir, 's2')).expectations, { stale: [], deferred: [{ at: `${known}:1` }] });

  const shard1 = await faultline(['run', '--kernel', 'host', '--suite', suite, '--shard', '1/2', '--expect', known, '--strict-expect', '--results', join(dir, 's1')]);
  t.equal(shard1.exitCode, 0, 'shard 1 holds the known failure');
  t.match(shard1.stdout, /^ {2}FAIL~ {3}wrong-expectation\/continue-mapped-claims-success-shmem \d+ms {2}line 14: ioctl CONTINUE: expected success, got EEXIST/m);

  const filtered = await faultline(['run', '--kernel', 'host', '--suite', suite, '--case', 'sleeps', '--expect', known, '--strict-expect', '--results', join(dir, 'only')]);
  t.equal(filtered.exitCode, 0, filtered.stdout + filtered.stderr);
  t.ok(filtered.stdout.split('\n').includes(`${deferred}: no case this run planned matches it (--case sleeps)`), filtered.stdout);
  t.match(assertRunValid(t, join(dir, 'only')).expectations, { stale: [], deferred: [{ at: `${known}:1` }], caseFilter: ['sleeps'] });

  const twice = write('twice.yaml', [...entry('wrong-expectation/continue-mapped-claims-success-shmem'), ...entry('continue-mapped-claims-success-shmem')]);
  const duplicate = await faultline(['run', '--kernel', 'host', '--suite', suite, '--expect', twice, '--strict-expect', '--results', join(dir, 'twice')]);
  t.equal(duplicate.exitCode, 1);
  t.ok(duplicate.stdout.split('\n').includes(`STALE expectation ${twice}:4: continue-mapped-claims-success-shmem is shadowed by ${twice}:1: that entry accepts the same results first; it can go`), duplicate.stdout);

  const skip = write('run-skip.yaml', entry('sleeps', 'skip'));
  const refused = await faultline(['run', '--kernel', 'host', '--suite', suite, '--expect', skip, '--results', join(dir, 'skip')]);
  t.equal(refused.exitCode, 2);
  t.equal(refused.stderr, `faultline: ${skip} has an error:\n  ${skip}:2:11: [0].status: a skip never fails the run, so an entry cannot accept one; expect fail, timeout, crash or error, or remove the entry; got "skip"\n  Fix the expectation file; the README ("Known failures") describes its keys: case, kernel, status, reason, until, url.`);
});
