import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { matchingPackages } from '../kernels/debian.js';
import { cacheDir } from '../runner/core/paths.js';
import { readRun } from '../runner/model/document.js';
import type { CaseResult, RunModel } from '../runner/model/types.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';

// The kernel's own selftests as a case source, for real: the 6.1 tree's userfaultfd built and run
// in a guest of that tree's kernel (and with the breaks-minor patch), the 6.12 tree's
// uffd-unit-tests in a Debian 6.12 guest and natively on this host.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);
const tarball612 = '/usr/src/linux-source-6.12.tar.xz';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-kselftest-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());
const patch = (dir: string) => join(root, 'test', 'fixtures', 'patches', dir, readdirSync(join(root, 'test', 'fixtures', 'patches', dir)).find((f) => f.endsWith('.patch'))!);

t.before(async () => {
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root });
});

const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const selftests = (doc: RunModel) => doc.results.filter((r) => r.suite === 'kselftest-userfaultfd');
/** Every failing subtest, as "case/subtest". */
const failingSubtests = (results: CaseResult[]) => results.flatMap((r) => (r.subtests ?? []).filter((s) => s.status !== 'pass' && s.status !== 'skip').map((s) => `${r.case}/${s.name}`)).sort();
const vmModes = ['anon', 'hugetlb', 'hugetlb_shared', 'shmem'].flatMap((m) => [`userfaultfd-${m}`, `userfaultfd-${m}-dev`]).sort();

t.test('the 6.1 tree: its selftests and the minor-fault suite in one run, one run.json, one report', async (t) => {
  const dir = join(scratch, 'tree');
  const run = await faultline(['run', '--tree', tree, '--suite', 'kselftest:userfaultfd', '--suite', 'suites/minor-faults.yaml', '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.match(run.stdout, /^selftests linux-source-6\.1 .*the tree .*: userfaultfd$/m, 'built from the tree itself');
  t.match(run.stdout, /^note: linux-source-6\.1: kselftest stress runs use /m, 'the sizes are said');
  const doc = readRun(dir);
  const own = selftests(doc);
  t.same(own.map((r) => r.case).sort(), vmModes, 'one case per memory type and mode run_vmtests.sh runs');
  for (const r of own) {
    t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.case}: ${r.status} ${r.reason ?? ''}`);
    if (r.status === 'pass') t.ok((r.subtests ?? []).length >= 4 && r.subtests!.every((s) => s.status === 'pass'), `${r.case}: ${JSON.stringify(r.subtests)}`);
  }
  t.same(own.find((r) => r.case === 'userfaultfd-shmem')?.subtests?.map((s) => s.name), ['bounces', 'zeropage', 'signal delivery', 'events', 'minor faults']);
  const yaml = doc.results.filter((r) => r.suite === 'minor-faults');
  t.equal(yaml.length, doc.matrix.cases.filter((c) => c.suite === 'minor-faults').length, 'every YAML case has its result beside them');
  const tap = readFileSync(join(dir, 'results.tap'), 'utf8');
  t.match(tap, /^ {4}# Subtest: userfaultfd-shmem\n {8}ok 1 - bounces\n[\s\S]*? {8}ok 5 - minor faults\n {8}1\.\.5\n {4}ok \d+ - userfaultfd-shmem/m, 'TAP nests the subtests');
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  t.match(html, /<ul class="subtests">[^]*minor faults/, 'the report lists them');
  t.ok(existsSync(join(dir, 'kselftest.json')), 'what the selftests were, kept for report --reparse');
  const reparsed = await faultline(['report', dir, '--reparse', '--json', join(scratch, 'reparsed.json')]);
  t.equal(reparsed.exitCode, 0, reparsed.stdout + reparsed.stderr);
  const again = JSON.parse(readFileSync(join(scratch, 'reparsed.json'), 'utf8')) as RunModel;
  t.same(selftests(again).map((r) => [r.case, r.status, r.subtests]), own.map((r) => [r.case, r.status, r.subtests]), 'read again from the saved guest, the same');
});

t.test('the breaks-minor patch: the minor-fault subtests fail and nothing else does', async (t) => {
  const dir = join(scratch, 'breaks');
  const run = await faultline(['run', '--tree', tree, '--patches', patch('breaks-minor'), '--suite', 'kselftest:userfaultfd', '--results', dir]);
  t.equal(run.exitCode, 1, run.stdout + run.stderr);
  const own = selftests(readRun(dir));
  t.same(failingSubtests(own), ['userfaultfd-shmem-dev/minor faults', 'userfaultfd-shmem/minor faults']);
  for (const r of own.filter((r) => r.case.startsWith('userfaultfd-shmem'))) {
    t.equal(r.status, 'fail');
    t.match(r.reason, /^minor faults: failed to exercise UFFDIO_CONTINUE error handling, ret=\d+, mapped=-11/);
  }
  t.same(own.filter((r) => !r.case.startsWith('userfaultfd-shmem')).map((r) => r.status).filter((s) => s !== 'pass' && s !== 'skip'), [], 'every other mode passes or skips');
});

t.test('6.12 uffd-unit-tests in a Debian 6.12 guest, filtered: one case per test x memory type', { skip: existsSync(tarball612) ? false : `${tarball612} is absent: apt-get install linux-source-6.12` }, async (t) => {
  const latest = (await matchingPackages('linux-image-6.12.*+deb12-cloud-amd64')).at(-1)!;
  const dir = join(scratch, 'unit');
  const run = await faultline(['run', '--kernel', `debian:${latest}`, '--suite', 'kselftest:userfaultfd', '--case', 'unit-minor', '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.match(run.stdout, /^selftests .* Debian's linux-source-6\.12: uffd-unit-tests, uffd-stress$/m);
  const own = selftests(readRun(dir));
  t.same(own.map((r) => r.case).sort(), ['unit-minor-collapse-shmem', 'unit-minor-hugetlb', 'unit-minor-shmem', 'unit-minor-wp-hugetlb', 'unit-minor-wp-shmem']);
  t.same(own.map((r) => r.status), own.map(() => 'pass'), 'the guest reserves the huge pages the hugetlb ones need');
  const plan = readFileSync(join(dir, 'plan.txt'), 'utf8');
  t.match(plan, /^arg -f\narg minor$/m, 'one run of uffd-unit-tests -f minor covers them');
});

t.test('6.12 uffd-unit-tests natively on this host', { skip: existsSync(tarball612) ? false : `${tarball612} is absent` }, async (t) => {
  const dir = join(scratch, 'host');
  const run = await faultline(['run', '--kernel', 'host', '--selftests-from', tarball612, '--suite', 'kselftest:userfaultfd', '--case', 'unit-minor', '--case', 'unit-api', '--results', dir]);
  const own = selftests(readRun(dir));
  t.equal(own.length, 7, run.stdout + run.stderr);
  // Whatever this host's kernel is, each case is what the program said about it, never a silent pass.
  const said = readFileSync(join(dir, 'results.raw'), 'utf8');
  t.match(said, /ended: "exit [014]"/, 'the program ran here and its end was recorded');
  for (const r of own) t.ok(r.status === 'pass' || ((r.status === 'skip' || r.status === 'fail') && r.reason), `${r.case}: ${r.status} ${r.reason ?? ''}`);
  t.equal(run.exitCode, own.some((r) => r.status === 'fail') ? 1 : 0);
});
