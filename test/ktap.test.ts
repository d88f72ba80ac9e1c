import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import { RunEvents } from '../runner/events.js';
import { replayBooter } from '../runner/guest/replay.js';
import type { KernelRunOptions, KernelSlot, PreparedKernel } from '../runner/kernel-run.js';
import { readRun } from '../runner/model/document.js';
import { isFailingStatus } from '../runner/model/status.js';
import { ResultStore } from '../runner/model/store.js';
import type { CaseResult, RunModel } from '../runner/model/types.js';
import { defaultGuestConfig } from '../runner/qemu/guest-config.js';
import { KtapReporter } from '../runner/reporters/ktap.js';
import { filesIn } from '../runner/results/kernel-files.js';
import { ResultsDirectory } from '../runner/results/results-dir.js';
import { runMatrix } from '../runner/run.js';
import { loadSuites } from '../runner/suites.js';
import { recordEveryStatus } from './fixtures/ktap-run.js';
import { linuxSources, linuxTreeOf } from './fixtures/linux-tree.js';
import { kernelRecord } from './fixtures/model.js';

// KTAP read by a consumer nobody here wrote: the kernel tree's own parser, `kunit.py parse`, of
// Debian's linux-source 6.1 and 6.12, counts what faultline's KTAP says, and the counts are
// faultline's own by the documented mapping (README): a case counts once, or by its parts when a
// selftest reported some; ok is passed (a failure an expectation accepts too, `ok # XFAIL`), SKIP
// is skipped, and not ok is failed (fail, timeout, crash, a case that never finished, and a
// regression, a regression to a skip included).
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const runs = join(import.meta.dirname, 'fixtures', 'runs');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-ktap-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, stripFinalNewline: false, env: { CI: 'true' } });

const available = linuxSources.filter((s) => !s.missing);
if (available.length === 0) t.plan(0, linuxSources[0]!.missing!);
const kunitTools = await Promise.all(available.map(async (s) => ({ version: s.version, tool: join(await linuxTreeOf(s, cacheDir()), 'tools', 'testing', 'kunit', 'kunit.py') })));

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  crashed: number;
  errors: number;
}

/** What each tree's kunit.py counts in `ktap`, from its "Ran N tests: ..." line (it names only the counts that are not 0). */
async function kunitParse(ktap: string): Promise<{ version: string; counts: Counts; exitCode: number; output: string }[]> {
  const file = join(mkdtempSync(join(scratch, 'parse-')), 'results.ktap');
  writeFileSync(file, ktap);
  return Promise.all(
    kunitTools.map(async ({ version, tool }) => {
      const run = await execa('python3', [tool, 'parse', file], { reject: false });
      const line = /Testing complete\. Ran (\d+) tests: (.*)$/m.exec(run.stdout);
      if (!line) throw new Error(`kunit.py ${version} printed no summary:\n${run.stdout}\n${run.stderr}`);
      const counts: Counts = { passed: 0, failed: 0, skipped: 0, crashed: 0, errors: 0 };
      for (const [, name, n] of line[2]!.matchAll(/(\w+): (\d+)/g)) counts[name as keyof Counts] = Number(n);
      if (counts.passed + counts.failed + counts.skipped + counts.crashed !== Number(line[1])) throw new Error(`kunit.py ${version}: ${line[0]} does not add up`);
      return { version, counts, exitCode: run.exitCode ?? -1, output: run.stdout };
    }),
  );
}

/** The mapping, from the model: what kunit.py must count. */
function expectedCounts(model: RunModel): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0, crashed: 0, errors: 0 };
  const regressed = (r: CaseResult) =>
    r.status !== 'pass' && model.comparisons.some((c) => c.candidate.id === r.kernel && c.cases.some((x) => x.suite === r.suite && x.case === r.case && model.failOn.includes(x.class)));
  for (const r of model.results) {
    const leaves = r.subtests?.length ? r.subtests.map((s) => s.status) : [r.status];
    const regression = regressed(r);
    const accepted = r.expected !== undefined && !regression;
    const failing = leaves.filter(isFailingStatus).length;
    const skips = leaves.filter((s) => s === 'skip').length;
    counts.passed += leaves.filter((s) => s === 'pass').length + (accepted ? failing : 0);
    if (regression && !r.subtests?.length) {
      // A regression reads not ok, a regression to a skip too.
      counts.failed += 1;
      continue;
    }
    counts.skipped += skips;
    if (!accepted) counts.failed += failing;
    // A case that reads not ok and none of whose parts failed gets one more part, failed.
    const readsNotOk = regression || (isFailingStatus(r.status) && !accepted);
    if (r.subtests?.length && readsNotOk && failing === 0) counts.failed += 1;
  }
  return counts;
}

async function ktapOf(dir: string): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const report = await faultline(['report', dir, '--ktap']);
  return { stdout: String(report.stdout), stderr: String(report.stderr), exitCode: report.exitCode };
}

t.test('every way a case ends, on a baseline and a series: kunit.py counts what faultline says, and report --ktap prints what the run printed', async (t) => {
  const dir = join(scratch, 'every-status');
  let live = '';
  const ktap = new KtapReporter((text) => (live += text));
  const store = recordEveryStatus(mkdir(dir), (e) => ktap.handle(e));
  const model = store.model;
  t.same(model.summary, { pass: 7, fail: 8, skip: 7, timeout: 2, crash: 2, error: 2 }, 'faultline\'s own count of cases');
  const expected = { passed: 37, failed: 13, skipped: 6, crashed: 0, errors: 0 };
  t.same(expectedCounts(model), expected, 'the mapping: 56 leaves');
  for (const parsed of await kunitParse(live)) {
    t.same(parsed.counts, expected, `kunit.py ${parsed.version}: Ran 56 tests: passed: 37, failed: 13, skipped: 6`);
    t.equal(parsed.exitCode, 1, `kunit.py ${parsed.version}: failures exit 1`);
    t.match(parsed.output, /={3,} linux-6\.1\+series \(2 subtests\) ={3,}\n.*={3,} uffd-basics \(11 subtests\) ={3,}/, 'the kernel, then its suites');
    t.match(parsed.output, /={3,} userfaultfd-shmem \(5 subtests\) ={3,}\n(.*\[PASSED\].*\n){4}[\s\S]*?\[FAILED\] minor faults/, 'a selftest\'s parts nested under its case');
  }
  t.match(live, /^# Totals: pass:35 fail:9 xfail:2 xpass:0 skip:6 error:4$/m, 'the kselftest totals line agrees');
  t.match(live, /^# faultline: 28 cases: 7 passed, 8 failed, 7 skipped, 2 timed out, 2 crashed, 2 errored \(2 of them known\)$/m);
  const report = await ktapOf(dir);
  t.equal(report.exitCode, 1);
  t.equal(report.stdout, live, 'report --ktap prints, byte for byte, what the live run printed');
  t.match(report.stderr, /^faultline: 14 cases on 2 kernels/m, 'the narration goes to stderr');
});

t.test('each status as a line: directives, a skip\'s cause, an accepted failure, a regression', async (t) => {
  let live = '';
  const ktap = new KtapReporter((text) => (live += text));
  recordEveryStatus(mkdir(join(scratch, 'lines')), (e) => ktap.handle(e));
  const series = live.slice(live.indexOf('# Subtest: linux-6.1+series'));
  const lines = [
    /^ {4}ok 1 pass-case$/m,
    /^ {4}# line 12: ioctl COPY: expected 0, got -1 \(EAGAIN\)\n {4}# console: kernel-1\/console\.log bytes 100-400\n {4}not ok 2 fail-case$/m,
    /^ {4}ok 3 skip-release # SKIP for the kernel release: needs kernel 6\.4 or newer \(running 6\.1\.0-57-cloud-amd64\)$/m,
    /^ {4}ok 4 skip-feature # SKIP the kernel lacks a feature: the kernel does not offer UFFD_FEATURE_WP_UNPOPULATED$/m,
    /^ {4}ok 5 skip-resource # SKIP this machine lacks a resource: no huge pages: sysctl vm\.nr_hugepages=64$/m,
    /^ {4}not ok 6 timeout-case # TIMEOUT its 3s limit ran out in step "read" \\# at line 9$/m,
    /^ {4}not ok 7 crash-case # ERROR crashed: the helper was killed by SIGSEGV$/m,
    /^ {4}not ok 8 died-case # ERROR no result: the guest died during this case$/m,
    /^ {4}# fail: line 20: expected a minor fault, got none\n {4}# console: kernel-1\/console\.log bytes 100-400\n {4}ok 9 known-failure # XFAIL fixed upstream, not backported \(known\.yaml:1\)$/m,
    /^ {4}# regression against linux-6\.1: pass -> skip\n {4}# skip: the kernel does not offer UFFD_FEATURE_MINOR_SHMEM\n {4}# console: .*\n {4}not ok 10 gone-feature$/m,
    /^ {4}# regression against linux-6\.1: pass -> fail\n {4}# line 31: .*\n {4}# console: .*\n {4}not ok 11 broken-by-series$/m,
    /^ {6}KTAP version 1\n {6}# Subtest: userfaultfd-shmem\n {6}1\.\.5\n {6}ok 1 bounces\n(.*\n){3}(?: {6}# .*\n)+ {6}not ok 5 minor faults\n {4}# regression against linux-6\.1: pass -> fail\n(?: {4}# .*\n)* {4}not ok 2 userfaultfd-shmem$/m,
    /^ {6}ok 5 minor faults\n {6}# kernel warning: WARNING: .*\n {6}# kernel report: WARNING: CPU: 0 PID: 88 at mm\/userfaultfd\.c:123 mfill_atomic\+0x1c\/0x40\n {6}not ok 6 the case as a whole\n {4}not ok 3 userfaultfd-shmem-dev$/m,
    /^# kernel: series, tcg\n# fresh guest 2 for 5 cases: the guest died during uffd-basics\/died-case\n# against linux-6\.1: 3 regressions \(11 unchanged\)\nnot ok 2 linux-6\.1\+series$/m,
  ];
  for (const line of lines) t.match(series, line);
  t.match(live, /^KTAP version 1\n1\.\.2\n {2}KTAP version 1\n {2}# Subtest: linux-6\.1\n {2}1\.\.2\n {4}KTAP version 1\n {4}# Subtest: uffd-basics\n {4}1\.\.11\n/, 'version, plan, and each level\'s version line, name and plan');
  t.match(live, /^not ok 1 linux-6\.1$/m, 'the baseline fails too: its cases that failed read as they are');
});

t.test('a run killed outright: report --ktap gives the cases it never reported ERROR, and kunit.py counts them failed', async (t) => {
  const dir = join(scratch, 'killed');
  recordEveryStatus(mkdir(dir), () => {}, 17);
  t.equal(readRun(dir).finishedAt, null, 'no end was written');
  const report = await ktapOf(dir);
  t.equal(report.exitCode, 1);
  const unfinished = report.stdout.match(/^ {4}not ok \d+ [\w-]+ # ERROR no result: the run did not finish$/gm) ?? [];
  t.equal(unfinished.length, 11, 'the series\' last 11 cases');
  const model = readRun(dir);
  const expected = expectedCounts(model);
  for (const parsed of await kunitParse(report.stdout)) t.same(parsed.counts, expected, `kunit.py ${parsed.version}`);
});

// The real saved runs (test/fixtures/runs: real guests) read again: their counts, by kunit.py.
const saved: Record<string, Counts> = {
  clean: { passed: 66, failed: 0, skipped: 2, crashed: 0, errors: 0 },
  host: { passed: 1, failed: 0, skipped: 0, crashed: 0, errors: 0 },
  'panic-restart': { passed: 2, failed: 1, skipped: 0, crashed: 0, errors: 0 },
  'hang-restart': { passed: 2, failed: 1, skipped: 0, crashed: 0, errors: 0 },
  'baseline-regression': { passed: 10, failed: 2, skipped: 0, crashed: 0, errors: 0 },
};
t.test('the recorded runs of real guests: a pass, skips, a crash, a timeout and a regression, counted alike', async (t) => {
  t.same(Object.keys(saved).sort(), readdirSync(runs).filter((n) => Object.hasOwn(saved, n)).sort());
  const printed = new Map<string, string>();
  for (const [name, counts] of Object.entries(saved)) {
    const report = await ktapOf(join(runs, name));
    printed.set(name, report.stdout);
    const model = readRun(join(runs, name));
    t.same(expectedCounts(model), counts, `${name}: the mapping`);
    for (const parsed of await kunitParse(report.stdout)) {
      t.same(parsed.counts, counts, `${name}: kunit.py ${parsed.version}`);
      t.equal(parsed.exitCode, report.exitCode === 0 ? 0 : 1, `${name}: kunit.py ${parsed.version} agrees with faultline's exit code`);
    }
  }
  const panic = printed.get('panic-restart');
  t.match(panic, /^ {4}# kernel report: Kernel panic - not syncing: Fatal exception\n/m, 'a kernel report quoted');
  const hang = printed.get('hang-restart');
  t.match(hang, /^ {4}not ok 2 dontwake # TIMEOUT no result: the guest stopped responding/m);
});

// The coin (test/replay.test.ts): the same case recorded passing and failing, played back
// through the engine that ran it, reruns included. Live KTAP against report --ktap of what it saved.
t.test('a live run through the engine (recorded guests) and report --ktap of its results directory print the same KTAP', async (t) => {
  const dir = mkdir(join(scratch, 'coin'));
  const loaded = await loadSuites([join(runs, 'coin-heads', 'suites', 'coin.yaml')]);
  const base = join(dir, 'base.img');
  writeFileSync(base, '');
  const kernels = [kernelRecord('base', 0, { role: 'baseline', label: 'base', dir: 'kernel-0' }), kernelRecord('series', 1, { role: 'candidate', label: 'series', dir: 'kernel-1' })];
  const prepare = async (_o: KernelRunOptions, slot: KernelSlot): Promise<PreparedKernel> => {
    const record = kernels[slot.index]!;
    return { record, resolved: { id: record.id, label: record.label, spec: record.spec, image: 'recorded', release: null, config: null, headersDir: null, cached: true }, helper: 'recorded', baseImage: base, guestImage: { kind: 'busybox' }, rootfs: null, files: filesIn(dir, record.dir), selftests: null };
  };
  const store = new ResultStore({ command: ['faultline', 'run', '--ktap'], kernels: kernels.map((k) => ({ spec: k.spec, role: k.role })), cases: loaded.planned, pairs: [[0, 1]] });
  let live = '';
  const ktap = new KtapReporter((text) => (live += text));
  const files = new ResultsDirectory(dir, null);
  await runMatrix(
    { loaded, kernels: kernels.map((k) => ({ spec: { kind: 'host' as const }, role: k.role })), pairs: [[0, 1]], jobs: 2, shard: null, retries: 2, kselftestSizes: {} },
    { ...defaultGuestConfig, accel: 'tcg', tcgSlowdown: 4 },
    {
      store,
      events: new RunEvents().on((e) => files.handle(e)).on((e) => ktap.handle(e)),
      cacheDir: dir,
      kernelFiles: (d) => filesIn(dir, d),
      prepare,
      boot: (opts) => {
        const side = basename(dirname(opts.consoleLog!)) === 'kernel-0' ? 'heads' : 'tails';
        // Each side was recorded once: every boot of it, reruns too, plays that guest.
        return replayBooter(join(runs, `coin-${side}`))({ ...opts, consoleLog: join(dirname(opts.consoleLog!), 'console.log') });
      },
    },
    null,
  );
  t.equal(store.model.comparisons[0]?.counts.regression, 1, 'the toss regressed, every rerun');
  t.match(live, /^ {4}# regression against base: pass -> fail \(reruns: pass,pass,pass \/ fail,fail,fail\)\n(?: {4}# .*\n)* {4}not ok 1 toss$/m);
  const report = await ktapOf(dir);
  t.equal(report.exitCode, 1);
  t.equal(report.stdout, live, 'the same text');
  for (const parsed of await kunitParse(live)) t.same(parsed.counts, { passed: 1, failed: 1, skipped: 0, crashed: 0, errors: 0 }, `kunit.py ${parsed.version}`);
});

t.test('faultline run --ktap (on the host kernel, no guest): KTAP on stdout, the narration on stderr, and report --ktap prints the same', async (t) => {
  const dir = join(scratch, 'host-run');
  const run = await faultline(['run', '--ktap', '--kernel', 'host', '--suite', 'bench/trivial.yaml', '--results', dir]);
  t.match(run.stdout, /^KTAP version 1\n1\.\.1\n {2}KTAP version 1\n {2}# Subtest: host\n[\s\S]* {4}(ok|not ok) 1 open-uffd\b/);
  t.match(run.stderr, /^1 passed, 0 failed in |^0 passed, /m, 'the summary on stderr');
  t.notMatch(run.stdout, /^results: /m, 'nothing but KTAP on stdout');
  const report = await ktapOf(dir);
  t.equal(report.stdout, run.stdout, 'the same text');
  const model = readRun(dir);
  for (const parsed of await kunitParse(run.stdout)) t.same(parsed.counts, expectedCounts(model), `kunit.py ${parsed.version}`);
});

t.test('--tap and --ktap together: a usage error, exit 2, before anything is made', async (t) => {
  const results = join(scratch, 'both');
  const message = `faultline: --tap and --ktap both print the results on stdout, and stdout can hold only one of them\n  Choose one: --tap for TAP 14 (TAP readers, CI), --ktap for KTAP v1 (the kernel's kunit.py parse, kselftest tooling). The other can be printed afterwards from the saved run: faultline report DIR --tap (or --ktap).\n`;
  const run = await faultline(['run', '--tap', '--ktap', '--kernel', 'host', '--results', results]);
  t.equal(run.exitCode, 2);
  t.equal(run.stderr, message);
  t.equal(run.stdout, '');
  t.notOk(existsSync(results), 'no results directory');
  const report = await faultline(['report', join(runs, 'clean'), '--ktap', '--tap']);
  t.equal(report.exitCode, 2);
  t.equal(report.stderr, message);
});

/** An empty directory, as claimResultsDirectory leaves one for the run. */
function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
