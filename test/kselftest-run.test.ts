import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { matchingPackages } from '../kernels/debian.js';
import { cacheDir } from '../runner/core/paths.js';
import type { CaseResult, RunModel } from '../runner/model/types.js';
import { skipUnlessCi } from './fixtures/ci-needs.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';
import { assertRunValid } from './fixtures/run-schema.js';

// The kernel's own selftests as a case source, for real: the 6.1 tree's userfaultfd built and run
// in a guest of that tree's kernel (and with the breaks-minor patch), the 6.12 tree's
// uffd-unit-tests in a Debian 6.12 guest and natively on this host.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);
const tarball612 = '/usr/src/linux-source-6.12.tar.xz';
const tarball612Missing = skipUnlessCi(existsSync(tarball612) ? null : `${tarball612} is absent: apt-get install linux-source-6.12`);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-kselftest-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());
const patch = (dir: string) => join(root, 'test', 'fixtures', 'patches', dir, readdirSync(join(root, 'test', 'fixtures', 'patches', dir)).find((f) => f.endsWith('.patch'))!);


const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const selftests = (doc: RunModel) => doc.results.filter((r) => r.suite === 'kselftest-userfaultfd');
/** Every failing subtest, as "case/subtest". */
const failingSubtests = (results: CaseResult[]) => results.flatMap((r) => (r.subtests ?? []).filter((s) => s.status !== 'pass' && s.status !== 'skip').map((s) => `${r.case}/${s.name}`)).sort();
/** The subtests 6.1's userfaultfd runs for a memory type. */
const subtestsOf = (type: string) => [
  'bounces',
  ...(type === 'anon' ? ['uffd-wp pagemap (4 KiB)', 'uffd-wp pagemap (2 MiB)'] : []),
  'zeropage',
  'signal delivery',
  'events',
  ...(type === 'shmem' || type === 'hugetlb_shared' ? ['minor faults'] : []),
];
const vmModes = ['anon', 'hugetlb', 'hugetlb_shared', 'shmem'].flatMap((m) => [`userfaultfd-${m}`, `userfaultfd-${m}-dev`]).sort();

t.test('the 6.1 tree: its selftests and the minor-fault suite in one run, one run.json, one report', async (t) => {
  const dir = join(scratch, 'tree');
  const run = await faultline(['run', '--tree', tree, '--suite', 'kselftest:userfaultfd', '--suite', 'suites/minor-faults.yaml', '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.match(run.stdout, /^selftests linux-source-6\.1 .*the tree .*: userfaultfd$/m, 'built from the tree itself');
  t.match(run.stdout, /^note: linux-source-6\.1: kselftest stress runs use /m, 'the sizes are said');
  const doc = assertRunValid(t, dir);
  const own = selftests(doc);
  t.same(own.map((r) => r.case).sort(), vmModes, 'one case per memory type and mode run_vmtests.sh runs');
  for (const r of own) {
    t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.case}: ${r.status} ${r.reason ?? ''}`);
    if (r.status !== 'pass') continue;
    const type = /^userfaultfd-(\w+?)(-dev)?$/.exec(r.case)![1]!;
    t.same(r.subtests?.map((s) => `${s.name} ${s.status}`), subtestsOf(type).map((name) => `${name} pass`), `${r.case}: every subtest it runs, passed`);
  }
  const mustPass = ['userfaultfd-anon', 'userfaultfd-anon-dev', 'userfaultfd-shmem', 'userfaultfd-shmem-dev'];
  t.same(own.filter((r) => mustPass.includes(r.case) && r.status !== 'pass').map((r) => `${r.case}: ${r.status} ${r.reason}`), [], 'anonymous and shmem modes need no huge pages: they pass');
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

// With the adds-selftest series on top (a run_vmtests.sh line for userfaultfd's shmem:collapse,
// then taken out of the uffd_mods loop): the cases are read from the tree as the series leaves it.
t.test('the breaks-minor patch, with a series that adds a selftest: the minor-fault subtests fail, in the added test too, and nothing else does', async (t) => {
  const dir = join(scratch, 'breaks');
  const junit = join(scratch, 'breaks.junit.xml');
  const run = await faultline(['run', '--tree', tree, '--patches', patch('breaks-minor'), '--patches', join(root, 'test', 'fixtures', 'patches', 'adds-selftest'), '--suite', 'kselftest:userfaultfd', '--results', dir, '--junit', junit]);
  t.equal(run.exitCode, 1, run.stdout + run.stderr);
  const own = selftests(assertRunValid(t, dir));
  t.same(own.map((r) => r.case).sort(), [...vmModes, 'userfaultfd-shmem-collapse'].sort(), "the series' test is planned and run; the :dev run its second patch removed is not");
  t.same(failingSubtests(own), ['userfaultfd-shmem-collapse/collapse', 'userfaultfd-shmem-collapse/minor faults', 'userfaultfd-shmem-dev/minor faults', 'userfaultfd-shmem/minor faults']);
  for (const r of own.filter((r) => r.case.startsWith('userfaultfd-shmem'))) {
    t.equal(r.status, 'fail');
    t.match(r.reason, /^minor faults: failed to exercise UFFDIO_CONTINUE error handling, ret=\d+, mapped=-11/);
  }
  t.match(own.find((r) => r.case === 'userfaultfd-shmem-collapse')?.subtests?.at(-1), { name: 'collapse', status: 'error', reason: 'not reached: the test stopped in "minor faults"' });
  t.same(own.filter((r) => !r.case.startsWith('userfaultfd-shmem')).map((r) => r.status).filter((s) => s !== 'pass' && s !== 'skip'), [], 'every other mode passes or skips');
  t.match(readFileSync(join(dir, 'results.tap'), 'utf8'), /^ {4}not ok \d+ - userfaultfd-shmem-collapse\b/m, 'reported in TAP');
  t.match(readFileSync(junit, 'utf8'), /<testcase [^>]*name="userfaultfd-shmem-collapse"/, 'and in JUnit');
});

t.test('6.12 uffd-unit-tests in a Debian 6.12 guest, filtered: one case per test x memory type', { skip: tarball612Missing ?? false }, async (t) => {
  const latest = (await matchingPackages('linux-image-6.12.*+deb12-cloud-amd64')).at(-1)!;
  const dir = join(scratch, 'unit');
  const run = await faultline(['run', '--kernel', `debian:${latest}`, '--suite', 'kselftest:userfaultfd', '--case', 'unit-minor', '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.match(run.stdout, /^selftests .* Debian's linux-source-6\.12: uffd-unit-tests, uffd-stress$/m);
  const own = selftests(assertRunValid(t, dir));
  t.same(own.map((r) => r.case).sort(), ['unit-minor-collapse-shmem', 'unit-minor-hugetlb', 'unit-minor-shmem', 'unit-minor-wp-hugetlb', 'unit-minor-wp-shmem']);
  t.same(own.map((r) => r.status), own.map(() => 'pass'), 'the guest reserves the huge pages the hugetlb ones need');
  const plan = readFileSync(join(dir, 'plan.txt'), 'utf8');
  t.match(plan, /^arg -f\narg minor$/m, 'one run of uffd-unit-tests -f minor covers them');
});

t.test('6.12 uffd-unit-tests natively on this host', { skip: tarball612Missing ?? false }, async (t) => {
  const dir = join(scratch, 'host');
  const run = await faultline(['run', '--kernel', 'host', '--selftests-from', tarball612, '--suite', 'kselftest:userfaultfd', '--case', 'unit-minor', '--case', 'unit-api', '--results', dir]);
  const own = selftests(assertRunValid(t, dir));
  t.equal(own.length, 7, run.stdout + run.stderr);
  // Whatever this host's kernel is, each case is what the program printed about it, never a
  // silent pass: read from the program's own output the helper kept.
  const raw = readFileSync(join(dir, 'results.raw'), 'utf8');
  const ended = /ended: "exit ([014])"/.exec(raw);
  t.ok(ended, 'the program ran here and its end was recorded');
  const output = Buffer.from(/output: "([^"]*)"/.exec(raw)?.[1] ?? '', 'base64').toString('utf8');
  const line = (test: string) => output.split('\n').find((l) => l.startsWith(`Testing ${test}... `)) ?? '';
  const names: Record<string, string> = { 'unit-api-syscall': 'UFFDIO_API (with syscall)', 'unit-api-dev': 'UFFDIO_API (with /dev/userfaultfd)', 'unit-minor-shmem': 'minor on shmem', 'unit-minor-hugetlb': 'minor on hugetlb', 'unit-minor-wp-shmem': 'minor-wp on shmem', 'unit-minor-wp-hugetlb': 'minor-wp on hugetlb', 'unit-minor-collapse-shmem': 'minor-collapse on shmem' };
  for (const r of own) {
    const said = line(names[r.case]!);
    if (r.status === 'pass') t.match(said, / done$/, `${r.case}: pass, as the program said: ${said}`);
    else if (r.status === 'skip') t.equal(said, `Testing ${names[r.case]}... skipped [reason: ${r.reason}]`, `${r.case}: skipped with the program's reason`);
    else t.ok(r.status === 'fail' && said.includes('failed [reason: ') && r.reason?.startsWith(/failed \[reason: (.*)\]/.exec(said)?.[1] ?? '\0'), `${r.case}: failed with the program's reason`);
  }
  t.equal(run.exitCode, own.some((r) => r.status === 'fail') ? 1 : 0);
  const cwd = /^exec cwd=(.*)$/m.exec(readFileSync(join(dir, 'plan.txt'), 'utf8'))?.[1] ?? '';
  t.same(elfKind(join(cwd, 'uffd-unit-tests')), { type: 'DYN', interpreter: false }, 'a static PIE: its heap is never randomized onto the tests\' fixed 1 GiB areas');
});

/** An ELF program's type and whether it asks for a dynamic loader. */
function elfKind(path: string): { type: string; interpreter: boolean } {
  const elf = readFileSync(path);
  const type = ({ 2: 'EXEC', 3: 'DYN' } as Record<number, string>)[elf.readUInt16LE(16)] ?? 'other';
  const phoff = Number(elf.readBigUInt64LE(32));
  const size = elf.readUInt16LE(54);
  const count = elf.readUInt16LE(56);
  const PT_INTERP = 3;
  const interpreter = Array.from({ length: count }, (_, i) => elf.readUInt32LE(phoff + i * size)).includes(PT_INTERP);
  return { type, interpreter };
}
