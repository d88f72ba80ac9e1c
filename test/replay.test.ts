import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import t from 'tap';
import { RunEvents, type RunEvent } from '../runner/events.js';
import { replayBooter } from '../runner/guest/replay.js';
import type { KernelRunOptions, KernelSlot, PreparedKernel } from '../runner/kernel-run.js';
import { readRun } from '../runner/model/document.js';
import { ResultStore } from '../runner/model/store.js';
import type { RunModel } from '../runner/model/types.js';
import { reparseRun } from '../runner/reparse.js';
import { runMatrix } from '../runner/run.js';
import { filesIn } from '../runner/results/kernel-files.js';
import { defaultGuestConfig } from '../runner/qemu/guest-config.js';
import { loadSuites } from '../runner/suites.js';
import { kernelRecord } from './fixtures/model.js';
import { assertRunValid } from './fixtures/run-schema.js';

// Whole runs from recordings: real guests' consoles, result channels and ends (recorded by
// test/fixtures/runs/record.sh) played back through the engine that ran them, restarts and
// reruns included, in milliseconds, as kunit_tool's tests drive its main with a fake kernel.
const root = join(import.meta.dirname, '..');
const runs = join(import.meta.dirname, 'fixtures', 'runs');
const recorded = readdirSync(runs).filter((name) => !name.includes('.'));
const scratch = mkdtempSync(join(tmpdir(), 'faultline-replay-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

t.ok(recorded.length >= 7, `${recorded.length} recorded runs`);

for (const name of recorded) {
  t.test(`report --reparse of the recorded run "${name}" equals the run.json it wrote`, async (t) => {
    const saved = readRun(join(runs, name));
    const started = performance.now();
    const again = await reparseRun(join(runs, name));
    t.comment(`reparsed ${saved.results.length} results in ${Math.round(performance.now() - started)} ms`);
    t.same(again, saved);
  });
}

t.test('what the recordings hold: a panic and a hang each cost one guest, and the cases after them run', async (t) => {
  const panic = await reparseRun(join(runs, 'panic-restart'));
  t.same(panic.results.map((r) => `${r.case} ${r.status}`), ['before pass', 'dontwake crash', 'after pass']);
  t.equal(panic.restarts.length, 1, 'one fresh guest');
  t.match(panic.restarts, [{ guest: 2, cases: 1, reason: /^the guest died during zeropage-dontwake\/dontwake \(the kernel panicked: "Kernel panic - not syncing: Fatal exception"\)$/ }]);
  const hang = await reparseRun(join(runs, 'hang-restart'));
  t.same(hang.results.map((r) => `${r.case} ${r.status}`), ['before pass', 'dontwake timeout', 'after pass']);
  t.match(hang.restarts, [{ guest: 2, cases: 1, reason: /^the guest stopped responding during zeropage-dontwake\/dontwake/ }]);
  t.equal(hang.restarts.length, 1, 'one fresh guest');
  t.match(hang.results[1]!.reason, /^no result: the guest stopped responding during this case \(no end mark within 8s: its 3s limit \+ 5s grace\); QEMU was stopped/);
  const regression = await reparseRun(join(runs, 'baseline-regression'));
  t.same(regression.comparisons[0]!.cases.filter((c) => c.class === 'regression').map((c) => c.case), ['continue-mapped-eexist-shmem', 'continue-dontwake-eexist-no-wake-shmem']);
  t.same(regression.comparisons[0]!.cases.find((c) => c.class === 'regression')?.attempts, { baseline: ['pass', 'pass', 'pass'], candidate: ['fail', 'fail', 'fail'] }, 'rerun twice on both kernels');
});

t.test('faultline report renders a saved run, and --reparse through the CLI writes the same run.json', async (t) => {
  const cli = join(root, 'dist', 'runner', 'cli.js');
  const out = join(scratch, 'reparsed.json');
  const report = await execa('node', [cli, 'report', join(runs, 'baseline-regression'), '--reparse', '--json', out], { reject: false, env: { CI: 'true' } });
  t.equal(report.exitCode, 1, 'the run\'s exit code: it found regressions');
  t.same(assertRunValid(t, out), readRun(join(runs, 'baseline-regression')));
  t.match(report.stdout, /linux-source-6\.1\+1 against linux-source-6\.1: 2 regressions \(\d+ unchanged\)\n {2}regression {4}minor-faults\/continue-mapped-eexist-shmem {2}pass -> fail \(reruns: pass,pass,pass \/ fail,fail,fail\)/);
  const tap = await execa('node', [cli, 'report', join(runs, 'clean'), '--tap'], { reject: false });
  t.equal(tap.exitCode, 0);
  t.match(tap.stdout, /^TAP version 14\n# Subtest: minor-faults\n/);
  t.equal(tap.stdout.match(/^ {4}ok \d+ /gm)?.length, 68);
});

// The coin: the same case recorded passing (coin-heads) and failing (coin-tails). The baseline
// always lands heads; the other kernel lands as the test says, boot by boot.
async function coinRun(candidate: ('heads' | 'tails')[]): Promise<{ model: RunModel; events: RunEvent[] }> {
  const loaded = await loadSuites([join(runs, 'coin-heads', 'suites', 'coin.yaml')]);
  const work = mkdtempSync(join(scratch, 'coin-'));
  const base = join(work, 'base.img');
  writeFileSync(base, '');
  const kernels = [kernelRecord('base', 0, { role: 'baseline', label: 'base', dir: 'kernel-0' }), kernelRecord('series', 1, { role: 'candidate', label: 'series', dir: 'kernel-1' })];
  const prepare = async (_o: KernelRunOptions, slot: KernelSlot): Promise<PreparedKernel> => {
    const record = kernels[slot.index]!;
    return { record, resolved: { id: record.id, label: record.label, spec: record.spec, image: 'recorded', release: null, config: null, headersDir: null, cached: true }, helper: 'recorded', baseImage: base, guestImage: { kind: 'busybox' }, rootfs: null, files: filesIn(work, record.dir), selftests: null };
  };
  const boots: string[] = [];
  const store = new ResultStore({ command: ['test'], kernels: kernels.map((k) => ({ spec: k.spec, role: k.role })), cases: loaded.planned });
  const events: RunEvent[] = [];
  await runMatrix(
    { loaded, kernels: kernels.map((k) => ({ spec: { kind: 'host' as const }, role: k.role })), pairs: [[0, 1]], jobs: 2, shard: null, retries: 2, kselftestSizes: {} },
    { ...defaultGuestConfig, accel: 'tcg', tcgSlowdown: 4 },
    {
      store,
      events: new RunEvents().on((e) => events.push(e)),
      cacheDir: work,
      kernelFiles: (dir) => filesIn(work, dir),
      prepare,
      boot: (opts) => {
        const kernel = basename(dirname(opts.consoleLog!));
        const side = kernel === 'kernel-0' ? 'heads' : candidate[boots.filter((b) => b === kernel).length]!;
        boots.push(kernel);
        return replayBooter(join(runs, `coin-${side}`))({ ...opts, consoleLog: join(work, 'console.log') });
      },
    },
    null,
  );
  t.equal(boots.length, 6, 'each kernel booted once, then twice more for the reruns');
  return { model: store.model, events };
}

t.test('a case that fails once and then passes when rerun is flaky, not a regression', async (t) => {
  const { model } = await coinRun(['tails', 'heads', 'tails']);
  t.same(model.comparisons[0]!.cases.map((c) => [c.case, c.class, c.attempts]), [['toss', 'flaky', { baseline: ['pass', 'pass', 'pass'], candidate: ['fail', 'pass', 'fail'] }]]);
  t.equal(model.exitCode, 0, 'a flaky case does not fail the run');
  t.same(model.reruns.map((r) => `${r.kernel} ${r.attempt} ${r.status}`), ['base 1 pass', 'series 1 pass', 'base 2 pass', 'series 2 fail']);
});

t.test('a case that fails every time it is rerun is a regression, and the run exits 1', async (t) => {
  const { model, events } = await coinRun(['tails', 'tails', 'tails']);
  t.same(model.comparisons[0]!.counts.regression, 1);
  t.equal(model.exitCode, 1);
  t.match(events.find((e) => e.type === 'run-end'), { exitCode: 1, why: ['1 regression on series against base'] });
  t.match(events.find((e) => e.type === 'note'), { message: '1 regression candidate: rerun 2 times on both kernels in fresh guests' });
});
