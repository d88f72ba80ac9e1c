import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import { GuestLedger } from '../runner/guest/ledger.js';
import { ResultStore } from '../runner/model/store.js';
import type { CaseResult } from '../runner/model/types.js';
import { compileUnits } from '../runner/sources/plan.js';
import type { RunUnit, UnitResult } from '../runner/sources/unit.js';
import { parseVmtestsOutput } from '../runner/sources/kselftest/parse-vmtests.js';
import { kselftestSizes } from '../runner/sources/kselftest/sizes.js';
import { kselftestCases, kselftestInfo, kselftestSuite, kselftestUnits, type KselftestInfo } from '../runner/sources/kselftest/source.js';
import { vmtestsUnits } from '../runner/sources/kselftest/vmtests.js';
import { selftestGeneration } from '../kernels/selftests/programs.js';
import { linuxSource61, linuxSource612, linuxTreeOf, type LinuxSource } from './fixtures/linux-tree.js';
import { dockerdMissing, startDockerd } from './fixtures/dockerd.js';
import { assertRunValid } from './fixtures/run-schema.js';

// run_vmtests.sh's output as a real guest printed it (test/fixtures/kselftest/README.md), read
// through the real unit into the same cases, subtests and verdicts as faultline's own runs of the
// same programs give from the same programs' output.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'kselftest', name), 'utf8');
const place = { cwd: '/faultline/kselftest', cpus: 1 };

async function infoOf(source: LinuxSource): Promise<KselftestInfo> {
  const tree = await linuxTreeOf(source, cacheDir());
  return kselftestInfo(tree, selftestGeneration(tree)!, `linux-source-${source.version}`);
}

/** The helper's result for a unit whose program printed `output` and ended so. */
function helperResult(unit: RunUnit, output: string, ended: string): UnitResult {
  const status = ended === 'exit 0' ? 'pass' : ended === 'timeout' ? 'timeout' : 'fail';
  return { kernel: 'k', suite: unit.ref.suite, case: unit.ref.case, status, reason: null, durationMs: 1, diag: { ended, output: Buffer.from(output).toString('base64'), dropped: 0 }, console: [] };
}

const verdicts = (results: readonly CaseResult[]) =>
  Object.fromEntries(results.map((r) => [r.case, { status: r.status, reason: r.reason, subtests: (r.subtests ?? []).map((s) => `${s.name} ${s.status}`) }]));

/** What faultline's own runs give when each program prints what it printed under the script. */
function programsWay(info: KselftestInfo, output: string): Record<string, unknown> {
  const script = parseVmtestsOutput(output);
  const { units } = kselftestUnits(info, kselftestCases(info), kselftestSizes('tcg', {}), { cwd: place.cwd, hugetlbfs: '/dev/hugepages' });
  const results = units.flatMap((unit) => {
    const argv = (unit as { exec: { argv: string[] } }).exec.argv;
    // The same run under the script: the same program and memory type (the script's own sizes differ).
    const run = script.runs.find((r) => r.argv[0] === argv[0] && (argv[0] === './uffd-unit-tests' || r.argv[1] === argv[1]));
    if (!run?.ended) return [];
    const ended = run.ended.kind === 'exit' ? `exit ${run.ended.code}` : run.ended.kind === 'signal' ? `signal ${run.ended.name.replace(/^SIG/, '')}` : 'timeout';
    return unit.expand(helperResult(unit, run.output, ended), []);
  });
  return verdicts(results);
}

function vmtestsWay(info: KselftestInfo, output: string, ended: string): CaseResult[] {
  const [unit] = vmtestsUnits(info, kselftestCases(info), place);
  return unit!.expand(helperResult(unit!, output, ended), []);
}

t.test('6.1: the script runs whole (it has no -t), its eight userfaultfd runs are the eight cases, as the programs give them', { skip: linuxSource61.missing ?? false }, async (t) => {
  const info = await infoOf(linuxSource61);
  const [unit] = vmtestsUnits(info, kselftestCases(info), place);
  t.match(compileUnits([], [unit!], 4), /^case run_vmtests-userfaultfd\ntimeout_ms 1680000\nexec cwd=\/faultline\/kselftest\narg \.\/run_vmtests\.sh\nend$/m, "eight runs of the settings' 45 s and a minute, x4 under TCG");
  t.equal(unit!.hugepages, 128, 'the huge pages the script insists on, held from boot');
  const output = fixture('vmtests-6.1.out');
  const results = vmtestsWay(info, output, 'exit 1');
  t.same(results.map((r) => r.case).sort(), kselftestCases(info).map((c) => c.case).sort(), 'exactly the cases of the programs way');
  t.same(verdicts(results), programsWay(info, output), 'each with the status, reason and subtests the programs way reads');
  t.same(results.filter((r) => r.status !== 'pass'), [], 'all pass on the Debian 6.1 cloud kernel (the runs of programs not built end at once, and are no cases)');
  t.same(results.find((r) => r.case === 'userfaultfd-shmem-dev')?.subtests?.map((s) => s.name), ['bounces', 'zeropage', 'signal delivery', 'events', 'minor faults']);
});

t.test('6.1: a script stopped by its time limit in a run: that case times out, the ones after it were never reached', { skip: linuxSource61.missing ?? false }, async (t) => {
  const info = await infoOf(linuxSource61);
  const output = fixture('vmtests-6.1.out');
  // The recording cut where the guest was when hugetlb_shared had printed its bounces.
  const cut = output.slice(0, output.indexOf('\n', output.indexOf('bounces: 0', output.indexOf('running ./userfaultfd hugetlb_shared 128'))) + 1);
  const results = verdicts(vmtestsWay(info, cut, 'timeout'));
  t.equal(results['userfaultfd-anon']?.status, 'pass');
  t.equal(results['userfaultfd-hugetlb']?.status, 'pass');
  t.match(results['userfaultfd-hugetlb_shared'], { status: 'timeout', subtests: ['bounces pass', 'zeropage timeout', 'signal delivery error', 'events error', 'minor faults error'] });
  t.match(results['userfaultfd-shmem-dev'], { status: 'error', reason: /^not reached: run_vmtests\.sh stopped before it/ });
});

t.test("6.1: a script that ends before its runs (too few huge pages) leaves every case not reached, saying the script's words", { skip: linuxSource61.missing ?? false }, async (t) => {
  const info = await infoOf(linuxSource61);
  const output = fixture('vmtests-6.1.out');
  // The first line the recording has is the script's own (its ARCH check); the rest cut away.
  const own = `${output.split('\n')[0]}\nNot enough huge pages available (12 < 128)\n`;
  const results = vmtestsWay(info, own, 'exit 1');
  t.same([...new Set(results.map((r) => r.status))], ['error']);
  t.match(results[0]?.reason, /^not reached: run_vmtests\.sh ended \(exit 1\) without running it: "Not enough huge pages available \(12 < 128\)"$/);
});

t.test('6.1: a kernel warning while one run of the script ran fails that case alone', { skip: linuxSource61.missing ?? false }, async (t) => {
  const info = await infoOf(linuxSource61);
  const cases = kselftestCases(info);
  const units = vmtestsUnits(info, cases, place);
  const unit = units[0]!;
  const output = fixture('vmtests-6.1.out');
  const warning = fixture('../console/warning.log').split('\n');
  const splat = warning.slice(warning.findIndex((l) => l.includes('cut here')), warning.findIndex((l) => l.includes('end trace')) + 1);
  const store = new ResultStore({ command: [], kernels: [{ spec: 'k', role: null }], cases });
  const ledger = new GuestLedger('k', units, { report: (r) => store.record(r), has: (ref) => store.has('k', ref) });
  ledger.consoleLine(`[    6.1] faultline: case ${kselftestSuite}/${unit.ref.case} begin`);
  let splatted = false;
  for (const line of output.split('\n')) {
    ledger.consoleLine(`[    6.2] faultline-out: ${line}`);
    if (line === 'testing signal delivery: done.' && !splatted) {
      splat.forEach((l) => ledger.consoleLine(l));
      splatted = true;
    }
  }
  ledger.consoleLine(`[    6.3] faultline: case ${kselftestSuite}/${unit.ref.case} end`);
  ledger.resultChunk(`TAP version 14\n# Subtest: ${kselftestSuite}\n    1..1\n    not ok 1 - ${unit.ref.case} # time=900ms\n      ---\n      status: fail\n      ended: "exit 1"\n      dropped: 0\n      output: "${Buffer.from(output).toString('base64')}"\n      ...\n`);
  ledger.end();
  const failed = store.model.results.filter((r) => r.status !== 'pass');
  t.same(failed.map((r) => r.case), ['userfaultfd-anon'], 'the first run: anon');
  t.match(failed[0]?.reason, /^kernel warning: WARNING: CPU: 0 PID: 37/);
});

t.test('6.12: -t userfaultfd, TAP-prefixed: uffd-unit-tests and uffd-stress runs are the same cases as the programs give', { skip: linuxSource612.missing ?? false }, async (t) => {
  const info = await infoOf(linuxSource612);
  const [unit] = vmtestsUnits(info, kselftestCases(info), place);
  t.same((unit as { exec?: { argv: string[] } }).exec?.argv, ['./run_vmtests.sh', '-t', 'userfaultfd']);
  const output = fixture('vmtests-6.12-on-6.1.out');
  const results = vmtestsWay(info, output, 'exit 1');
  t.same(results.map((r) => r.case).sort(), kselftestCases(info).map((c) => c.case).sort(), 'exactly the cases of the programs way');
  t.same(verdicts(results), programsWay(info, output), 'each with the status and reason the programs way reads');
  t.match(verdicts(results)['unit-wp-fork-hugetlb-private'], { status: 'fail', reason: /^Detected stall uffd-wp bit in child in present pte \(pagemap uffd-wp bit error: / }, "the 6.12 tests' real failure on a 6.1 kernel, as the programs way reads it");
  t.same(results.filter((r) => r.case.startsWith('stress-')).map((r) => `${r.case} ${r.status}`), ['anon', 'hugetlb', 'hugetlb-private', 'shmem', 'shmem-private'].map((m) => `stress-${m} pass`));
});

// How a program ended, as the script's own run_test says it: its function, taken from each tree,
// run by the real bash around programs that exit, skip, and die of SIGSEGV.
t.test("run_test's verdicts as each tree's script prints them: exit, KSFT_SKIP, a signal", { skip: linuxSource61.missing ?? linuxSource612.missing ?? false }, async (t) => {
  const functions = async (source: LinuxSource, names: string[]) => {
    const tree = await linuxTreeOf(source, cacheDir());
    const script = readFileSync(join(tree, 'tools/testing/selftests', source.version === '6.1' ? 'vm' : 'mm', 'run_vmtests.sh'), 'utf8');
    return names.map((n) => new RegExp(`^${n}\\(\\) \\{\n[\\s\\S]*?\n\\}$`, 'm').exec(script)![0]).join('\n');
  };
  const programs = ['sh -c "exit 1"', 'sh -c "exit 4"', 'sh -c "kill -SEGV \\$\\$"', 'true'];
  const trees = [
    { source: linuxSource61, prelude: 'ksft_skip=4', names: ['run_test'], call: 'run_test' },
    { source: linuxSource612, prelude: 'ksft_skip=4; count_total=0; count_pass=0; count_fail=0; count_skip=0; TAP_PREFIX="# "; VM_SELFTEST_ITEMS=userfaultfd', names: ['test_selected', 'tap_prefix', 'tap_output', 'pretty_name', 'run_test'], call: 'CATEGORY=userfaultfd run_test' },
  ];
  for (const tree of trees) {
    // One pipe for both, as the helper captures them: bash's word on a signal comes before the verdict.
    const text = ['exec 2>&1', tree.prelude, await functions(tree.source, tree.names), ...programs.map((p) => `${tree.call} ${p}`)].join('\n');
    const ran = await execa('bash', ['-c', text], { reject: false });
    const parsed = parseVmtestsOutput(ran.stdout);
    t.same(parsed.runs.map((r) => r.ended), [{ kind: 'exit', code: 1 }, { kind: 'exit', code: 4 }, { kind: 'signal', name: 'SIGSEGV' }, { kind: 'exit', code: 0 }], `${tree.source.version}: ${ran.stdout.split('\n').filter((l) => /FAIL|exit=|Segmentation/.test(l)).join(' | ')}`);
  }
});

// The end to end: the shipped Debian image on the default kernel (Debian's cloud kernel), its
// selftests run by faultline's own runner from static programs and by the tree's run_vmtests.sh
// from dynamically linked ones, two guests at once.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-vmtests-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

t.test('the Debian image runs kselftest:userfaultfd both ways on the default kernel, with the same verdicts', { skip: dockerdMissing() ?? linuxSource61.missing ?? false }, async (t) => {
  const dockerd = await startDockerd(t);
  const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { ...dockerd.env, CI: 'true' } });
  const built = await faultline(['image', 'build', 'debian']);
  t.equal(built.exitCode, 0, built.stdout + built.stderr);
  const started = performance.now();
  const run = async (runner: string) => {
    const dir = join(scratch, runner);
    const began = performance.now();
    const r = await faultline(['run', '--image', 'debian', '--suite', 'kselftest:userfaultfd', '--kselftest-runner', runner, '--results', dir]);
    t.comment(`--kselftest-runner ${runner}: ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return { r, dir };
  };
  const [programs, vmtests] = await Promise.all([run('programs'), run('vmtests')]);
  t.comment(`both ways: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  t.equal(programs.r.exitCode, 0, programs.r.stdout + programs.r.stderr);
  t.equal(vmtests.r.exitCode, 0, vmtests.r.stdout + vmtests.r.stderr);
  t.match(programs.r.stdout, /^selftests .*: userfaultfd$/m, 'static programs');
  t.match(vmtests.r.stdout, /^selftests .*: userfaultfd \(dynamically linked\) and run_vmtests\.sh$/m, 'the tree\'s own runner and its programs as the tree links them');
  const same = (dir: string) => Object.fromEntries(assertRunValid(t, dir).results.filter((r) => r.suite === kselftestSuite).map((r) => [r.case, `${r.status} ${(r.subtests ?? []).map((s) => `${s.name}=${s.status}`).join(', ')}`]));
  const [a, b] = [same(programs.dir), same(vmtests.dir)];
  t.equal(Object.keys(a).length, 8, "6.1's eight cases");
  t.same(b, a, 'each case: the same status and subtests both ways');
  const plan = readFileSync(join(vmtests.dir, 'plan.txt'), 'utf8');
  t.match(plan, /^case run_vmtests-userfaultfd\n.*\nexec cwd=\/faultline\/kselftest\narg \.\/run_vmtests\.sh\nend$/ms, 'one helper case: the script');
  // A source kernel's own selftests (its tree, with its series) for the script: built as the
  // tree links them in the guest's image, from the kernel's scratch copy.
  const tree = await linuxTreeOf(linuxSource61, cacheDir());
  const own = join(scratch, 'own-tree');
  const r = await faultline(['run', '--tree', tree, '--image', 'debian', '--suite', 'kselftest:userfaultfd', '--kselftest-runner', 'vmtests', '--results', own]);
  t.equal(r.exitCode, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^selftests .*: userfaultfd \(dynamically linked\) and run_vmtests\.sh$/m, "the kernel's own tree, linked as the tree links them");
  t.same(Object.keys(same(own)).sort(), Object.keys(a).sort(), 'the same eight cases from the tree the kernel was built from');
  t.notMatch(readFileSync(join(own, 'console.log'), 'utf8'), /Kernel panic/, 'the guest ends by rebooting, not by its init dying');
  // A run of the selftests alone has no YAML suite to read back, and reparses all the same.
  const json = join(scratch, 'own-reparsed.json');
  const reparsed = await faultline(['report', own, '--reparse', '--json', json]);
  t.equal(reparsed.exitCode, 0, reparsed.stdout + reparsed.stderr);
  const statuses = (doc: { results: { case: string; status: string }[] }) => Object.fromEntries(doc.results.map((r) => [r.case, r.status]));
  t.same(statuses(JSON.parse(readFileSync(json, 'utf8'))), statuses(assertRunValid(t, own)), 'reparsed from its consoles and result channels: the same statuses');
});

t.test('vmtests on the built-in busybox image, or an unknown runner, is a usage error before anything runs', { skip: linuxSource61.missing ?? false }, async (t) => {
  const r = await execa('node', [cli, 'run', '--suite', 'kselftest:userfaultfd', '--kselftest-runner', 'vmtests', '--results', join(scratch, 'busybox')], { cwd: root, reject: false, env: { CI: 'true' } });
  t.equal(r.exitCode, 2, r.stdout + r.stderr);
  t.match(r.stderr, /--kselftest-runner vmtests runs the tree's run_vmtests\.sh, a bash script, and the guest image busybox of .* has no bash/);
  t.notMatch(r.stdout, /kselftest-userfaultfd\//, 'refused before anything runs: no case has a result');
  const bad = await execa('node', [cli, 'run', '--suite', 'kselftest:userfaultfd', '--kselftest-runner', 'script'], { cwd: root, reject: false, env: { CI: 'true' } });
  t.equal(bad.exitCode, 2);
  t.match(bad.stderr, /--kselftest-runner "script": it is not a runner faultline knows/);
  const list = await execa('node', [cli, 'list', '--suite', 'kselftest:userfaultfd', '--kselftest-runner', 'vmtests'], { cwd: root, reject: false, env: { CI: 'true' } });
  t.match(list.stdout, /^  userfaultfd-hugetlb_shared-dev  \[\.\/run_vmtests\.sh, its \.\/userfaultfd hugetlb_shared:dev, half the huge pages in MiB, 32 bounces\]$/m, 'list says what runs each case');
});
