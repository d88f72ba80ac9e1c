import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { mergeShards } from '../runner/commands/merge.js';
import { readRun } from '../runner/model/document.js';
import { shardJobs, parseShard } from '../runner/model/shard.js';
import { caseKey } from '../runner/model/types.js';
import { rejectsExactly } from './fixtures/errors.js';
import { assertRunValid } from './fixtures/run-schema.js';

// Shards: a deterministic share of the (kernel, case) jobs, and merged shards that read as the
// whole run would. The real runs are on the host kernel, where a run takes seconds.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-shards-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const cases = Array.from({ length: 10 }, (_, i) => ({ suite: 's', case: `c${i}` }));

t.test('whole kernels go to shards when there are enough; else each kernel\'s cases split in runs', async (t) => {
  const of = (kernels: number, count: number) => Array.from({ length: count }, (_, i) => shardJobs(kernels, cases, { index: i + 1, count }));
  const four = of(4, 2);
  t.same(four.map((jobs) => [...new Set(jobs.map((j) => j.kernel))]), [[0, 2], [1, 3]], 'four kernels in two shards: two whole kernels each');
  const one = of(1, 3);
  t.same(one.map((jobs) => jobs.map((j) => j.case)), [['s/c0', 's/c1', 's/c2', 's/c3'], ['s/c4', 's/c5', 's/c6', 's/c7'], ['s/c8', 's/c9']], 'one kernel in three shards: neighbouring cases');
  const two = of(2, 3);
  t.same(two.map((jobs) => [...new Set(jobs.map((j) => j.kernel))]), [[0], [1], [0]], 'two kernels in three shards: each kernel booted by as few shards as can be');
  for (const [kernels, count] of [[1, 3], [2, 3], [3, 2], [5, 4], [2, 7]] as const) {
    const all = of(kernels, count).flat().map((j) => `${j.kernel} ${j.case}`);
    t.equal(new Set(all).size, all.length, `${kernels} kernels / ${count} shards: no job twice`);
    t.equal(all.length, kernels * cases.length, `${kernels} kernels / ${count} shards: every job once`);
  }
  t.same([parseShard('2/4'), parseShard('0/4'), parseShard('5/4'), parseShard('x')], [{ index: 2, count: 4 }, null, null, null]);
});

t.test('compared kernels: every shard holds both sides of each pair, for its run of cases', async (t) => {
  const shards = Array.from({ length: 3 }, (_, i) => shardJobs(2, cases, { index: i + 1, count: 3 }, true));
  t.same(shards.map((jobs) => [...new Set(jobs.map((j) => j.kernel))]), [[0, 1], [0, 1], [0, 1]], 'each shard boots both kernels');
  for (const jobs of shards) t.same(jobs.filter((j) => j.kernel === 0).map((j) => j.case), jobs.filter((j) => j.kernel === 1).map((j) => j.case), 'the same cases on both');
  t.same(shards.map((jobs) => jobs.filter((j) => j.kernel === 0).map((j) => j.case)), [['s/c0', 's/c1', 's/c2', 's/c3'], ['s/c4', 's/c5', 's/c6', 's/c7'], ['s/c8', 's/c9']]);
  const all = shards.flat().map((j) => `${j.kernel} ${j.case}`);
  t.equal(new Set(all).size, 2 * cases.length, 'every job once');
});

t.test('shards 1/3, 2/3 and 3/3 merged give the statuses of the unsharded run', async (t) => {
  const run = (name: string, extra: string[]) => execa('node', [cli, 'run', '--kernel', 'host', '--results', join(scratch, name), ...extra], { cwd: root, reject: false, env: { CI: 'true' } });
  const whole = await run('whole', []);
  t.equal(whole.exitCode, 0, whole.stdout + whole.stderr);
  const total = readRun(join(scratch, 'whole')).matrix.cases.length;
  const shares: number[] = [];
  for (const i of [1, 2, 3]) {
    const shard = await run(`s${i}`, ['--shard', `${i}/3`]);
    t.equal(shard.exitCode, 0, shard.stdout + shard.stderr);
    const header = new RegExp(`^faultline: (\\d+) of ${total} cases on host \\(shard ${i}/3\\)$`, 'm').exec(shard.stdout);
    t.ok(header, `shard ${i} says its share of the plan`);
    shares.push(Number(header?.[1]));
    t.equal(readRun(join(scratch, `s${i}`)).results.length, shares.at(-1), `shard ${i} ran its share`);
  }
  t.equal(shares.reduce((a, b) => a + b, 0), total, 'the shares add up to the plan');
  const merged = await execa('node', [cli, 'merge', join(scratch, 's3'), join(scratch, 's1'), join(scratch, 's2'), '--results', join(scratch, 'all')], { cwd: root, reject: false, env: { CI: 'true' } });
  t.equal(merged.exitCode, 0, merged.stdout + merged.stderr);
  const statuses = (dir: string) => readRun(join(scratch, dir)).results.map((r) => `${caseKey(r)} ${r.status}`);
  const reasons = (dir: string) => readRun(join(scratch, dir)).results.filter((r) => r.status !== 'pass').map((r) => `${caseKey(r)} ${r.status}: ${r.reason ?? ''}`).join('\n');
  t.same(statuses('all'), statuses('whole'), `merged:\n${reasons('all')}\nwhole:\n${reasons('whole')}`);
  t.equal(readRun(join(scratch, 'all')).shard, null);
  for (const dir of ['whole', 's1', 's2', 's3', 'all']) assertRunValid(t, join(scratch, dir));
  t.same(readRun(join(scratch, 'all')).host, readRun(join(scratch, 's1')).host, 'shards on one machine: the merged run names it');
  t.match(readFileSync(join(scratch, 'all', 'results.tap'), 'utf8'), /^TAP version 14\n/);
  t.equal(readFileSync(join(scratch, 'all', 'report.html'), 'utf8').match(/<tr id="[^"]+" class="(?:quiet|attention)" data-case="/g)?.length, total, 'the merged run\'s HTML report has a row for every case');
  t.match(readFileSync(join(scratch, 'all', 'shard-2', 'results.raw'), 'utf8'), /^TAP version 14\n/, 'each shard\'s files are kept under shard-I/');
  t.match(merged.stdout, /^\d+ passed, 0 failed, \d+ skipped in /m);

  t.test('merge refuses what would not make one whole run', async (t) => {
    const shards = ['s1', 's2', 's3'].map((s) => ({ dir: join(scratch, s), model: readRun(join(scratch, s)) }));
    const hint = 'Give every shard of the run; a merged run with a share missing would look complete and is not.';
    await rejectsExactly(t, Promise.resolve().then(() => mergeShards(shards.slice(0, 2))), { kind: 'usage', message: 'shard 3/3 is missing', hint });
    await rejectsExactly(t, Promise.resolve().then(() => mergeShards([shards[0]!, shards[0]!, shards[1]!])), {
      message: `${shards[0]!.dir} and ${shards[0]!.dir} are both shard 1/3: their cases overlap`,
      hint: 'Give each shard once.',
    });
    const otherPlan = { dir: 'other', model: { ...shards[2]!.model, matrix: { ...shards[2]!.model.matrix, cases: shards[2]!.model.matrix.cases.slice(1) } } };
    await rejectsExactly(t, Promise.resolve().then(() => mergeShards([shards[0]!, shards[1]!, otherPlan])), {
      message: `other ran a different plan from ${shards[0]!.dir} (other kernels, cases or baseline)`,
    });
    await rejectsExactly(t, Promise.resolve().then(() => mergeShards([{ dir: join(scratch, 'whole'), model: readRun(join(scratch, 'whole')) }])), {
      message: `${join(scratch, 'whole')} is not a shard (it was run without --shard)`,
    });
    const refused = await execa('node', [cli, 'merge', join(scratch, 's1'), join(scratch, 's2'), '--results', join(scratch, 'partial')], { cwd: root, reject: false });
    t.equal(refused.exitCode, 2);
    t.equal(refused.stderr, `faultline: shard 3/3 is missing\n  ${hint}`);
  });
});

t.test('a run.json faultline never wrote is refused with what it is', async (t) => {
  const file = join(scratch, 'other.json');
  writeFileSync(file, '{"version": 7}');
  await rejectsExactly(t, Promise.resolve().then(() => readRun(file)), {
    kind: 'usage',
    message: `${file} is not a run.json faultline wrote (version 7, expected 1, 2, 3 or 4)`,
  });
});
