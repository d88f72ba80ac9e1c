import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { applySeries } from '../kernels/source/apply.js';
import { loadPatchSeries } from '../kernels/source/patches.js';
import type { SourceSpec } from '../kernels/spec.js';
import { cacheDir } from '../runner/core/paths.js';
import { planKselftests } from '../runner/sources/kselftest/plan.js';
import { parseUserfaultfd } from '../runner/sources/kselftest/parse.js';
import { kselftestInfo, kselftestRunOf, kselftestUnits } from '../runner/sources/kselftest/source.js';
import { kselftestSizes } from '../runner/sources/kselftest/sizes.js';
import { vmtestsUnits } from '../runner/sources/kselftest/vmtests.js';
import { linuxSource612, linuxSourceMissing, linuxTree, linuxTreeOf } from './fixtures/linux-tree.js';

// A source kernel's selftest cases are read from its tree as its series leaves it, before any
// build: on the real 6.1 and 6.12 trees, with the adds-selftest fixture series (a run_vmtests.sh
// line, then moving it out of the uffd_mods loop) and adds-selftest-6.12 (a uffd_tests[] entry), no boots.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = join(import.meta.dirname, '..');
const fixture = join(root, 'test', 'fixtures', 'patches', 'adds-selftest');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-kselftest-series-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());
const spec = (patches: string[], take?: number): SourceSpec => ({ kind: 'source', tree, patches, base: 'tinyconfig', fragments: [], ...(take === undefined ? {} : { take }) });
const casesOf = async (specs: SourceSpec[], only: string[] = []) => (await planKselftests(specs, { from: null, cacheDir: cacheDir(), only })).map((p) => p.cases.map((c) => c.case));
const modes = ['anon', 'hugetlb', 'hugetlb_shared', 'shmem'].flatMap((m) => [`userfaultfd-${m}`, `userfaultfd-${m}-dev`]);

t.test('--per-patch: each prefix of the series plans its own list; the test the series adds is planned, the one it removes is not', async (t) => {
  const plans = await planKselftests([0, 1, 2].map((take) => spec([fixture], take)), { from: null, cacheDir: cacheDir(), only: [] });
  const sorted = (p: (typeof plans)[number]) => p.cases.map((c) => c.case).sort();
  t.same(sorted(plans[0]!), [...modes].sort(), 'the tree alone: its own eight modes');
  t.same(sorted(plans[1]!), [...modes, 'userfaultfd-shmem-collapse', 'userfaultfd-shmem-collapse-dev'].sort(), 'patch 1 adds shmem:collapse in the uffd_mods loop: plain and :dev');
  t.same(sorted(plans[2]!), [...modes, 'userfaultfd-shmem-collapse'].sort(), 'patch 2 takes it out of the loop: the :dev run is gone');
  t.same(plans.map((p) => p.info.what), [`the tree ${tree}`, `the tree ${tree} + 1 patch`, `the tree ${tree} + 2 patches`]);
  t.same(plans[2]!.info.runs.at(-1), { type: 'shmem:collapse', size: 20, bounces: 16, mods: [''] });
  t.equal(kselftestRunOf(plans[1]!.info, 'userfaultfd-shmem-collapse-dev'), './userfaultfd shmem:collapse:dev, 20 MiB, 16 bounces');
  t.same(await casesOf([spec([fixture])], ['collapse']), [['userfaultfd-shmem-collapse']], '--case filters the series-added case like any other');
});

t.test('the list read from the few patched files is the list of the tree the build patches', async (t) => {
  // A tree of just the selftest directories, patched the build's way (applySeries into a scratch copy).
  const small = join(scratch, 'small');
  for (const dir of ['tools/testing/selftests/vm']) cpSync(join(tree, dir), join(small, dir), { recursive: true });
  const src = join(scratch, 'work', 'src');
  cpSync(small, src, { recursive: true });
  const patches = await loadPatchSeries([fixture], small);
  await applySeries({ tree: small, scratch: join(scratch, 'work'), src, patches });
  const built = kselftestInfo(src, 'vm-userfaultfd', 'x');
  const [planned] = await planKselftests([{ ...spec([fixture]), tree: small }], { from: null, cacheDir: cacheDir(), only: [] });
  t.same({ ...planned!.info, what: 'x' }, built);
  const script = 'tools/testing/selftests/vm/run_vmtests.sh';
  t.equal(readFileSync(join(small, script), 'utf8'), readFileSync(join(tree, script), 'utf8'), 'the plan wrote nothing into the tree');
});

t.test('a series that touches no list file reads the tree itself; one that does not apply leaves the list as the tree has it', async (t) => {
  const other = join(root, 'test', 'fixtures', 'patches', 'series-3');
  t.same(await casesOf([spec([join(other, 'series')])]), [modes], 'series-3 changes only the kernel');
  // patch 2 alone: its context is patch 1's lines, which the tree does not have
  const stale = join(fixture, readdirSync(fixture).sort()[1]!);
  t.match(readFileSync(stale, 'utf8'), /^-\trun_test \.\/userfaultfd shmem:collapse\$\{mod\}/m);
  t.same(await casesOf([spec([stale])]), [modes], 'the build fails on it with the patch named; the plan does not stop the other kernels');
});

t.test('the series-added mode runs as its own program run and reads its own subtests', async (t) => {
  const [plan] = await planKselftests([spec([fixture])], { from: null, cacheDir: cacheDir(), only: ['collapse'] });
  const { units } = kselftestUnits(plan!.info, plan!.cases, kselftestSizes('tcg', {}), { cwd: '/faultline/kselftest', hugetlbfs: '/dev/hugepages' });
  t.same(units.map((u) => [u.ref.case, u.exec.argv]), [['userfaultfd-shmem-collapse', ['./userfaultfd', 'shmem:collapse', '4', '2']]]);
  const script = vmtestsUnits(plan!.info, plan!.cases, { cwd: '/faultline/kselftest', cpus: 1 });
  t.same(script[0]?.cases.map((c) => c.case), ['userfaultfd-shmem-collapse'], 'run_vmtests.sh gives it too');
  const output = [
    'nr_pages: 1024, nr_pages_per_cpu: 1024',
    'bounces: 1, mode: rnd racing read, userfaults: 20 missing (20) ',
    'bounces: 0, mode: read, userfaults: 12 missing (12) ',
    'testing UFFDIO_ZEROPAGE: done.',
    'testing signal delivery: done.',
    'testing events (fork, remap, remove): userfaults: 1024 missing (1024) ',
    'testing minor faults: userfaults: 1024 minor (1024) ',
    'testing collapse of uffd memory into PMD-mapped THPs: done.',
  ].join('\n');
  const parsed = parseUserfaultfd(output, { kind: 'exit', code: 0 }, 'shmem:collapse');
  t.same(parsed.subtests.map((s) => `${s.name} ${s.status}`), ['bounces pass', 'zeropage pass', 'signal delivery pass', 'events pass', 'minor faults pass', 'collapse pass']);
  const failed = parseUserfaultfd(`${output.split('\ntesting collapse')[0]}\ntesting collapse of uffd memory into PMD-mapped THPs:ERROR: madvise(MADV_COLLAPSE) (errno=22, line=1387)`, { kind: 'exit', code: 1 }, 'shmem:collapse');
  t.same([failed.status, failed.reason], ['fail', 'collapse: madvise(MADV_COLLAPSE) (errno=22, line 1387)'], 'an error in MADV_COLLAPSE is the collapse subtest\'s, not minor faults\'');
});

t.test('a commit range A..B: each prefix is read from the tree at A plus its commits, not from the working tree at B', async (t) => {
  const repo = join(scratch, 'repo');
  cpSync(join(tree, 'tools/testing/selftests/vm'), join(repo, 'tools/testing/selftests/vm'), { recursive: true });
  cpSync(join(tree, 'Makefile'), join(repo, 'Makefile'));
  const git = (...args: string[]) => execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { cwd: repo, env: { GIT_CEILING_DIRECTORIES: scratch } });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  await git('am', '-q', ...readdirSync(fixture).sort().map((f) => join(fixture, f)));
  const range = (take: number): SourceSpec => ({ kind: 'source', tree: repo, patches: ['HEAD~2..HEAD'], base: 'tinyconfig', fragments: [], take });
  const plans = await planKselftests([0, 1, 2].map(range), { from: null, cacheDir: join(scratch, 'cache'), only: ['collapse'] });
  t.same(plans.map((p) => p.cases.map((c) => c.case)), [[], ['userfaultfd-shmem-collapse', 'userfaultfd-shmem-collapse-dev'], ['userfaultfd-shmem-collapse']]);
});

t.test('6.12: a test the series adds to uffd_tests[] is planned on each memory type it names', { skip: linuxSource612.missing ?? false }, async (t) => {
  const tree612 = await linuxTreeOf(linuxSource612, cacheDir());
  const fixture612 = join(root, 'test', 'fixtures', 'patches', 'adds-selftest-6.12');
  const specs: SourceSpec[] = [0, 1].map((take) => ({ kind: 'source', tree: tree612, patches: [fixture612], base: 'tinyconfig', fragments: [], take }));
  const [before, after] = await casesOf(specs);
  const added = ['anon', 'shmem', 'shmem-private', 'hugetlb', 'hugetlb-private'].map((m) => `unit-register-twice-${m}`);
  t.same(after!.filter((c) => !before!.includes(c)), added);
  t.same(before!.filter((c) => !after!.includes(c)), []);
  const [plan] = await planKselftests([specs[1]!], { from: null, cacheDir: cacheDir(), only: ['register-twice'] });
  const { units } = kselftestUnits(plan!.info, plan!.cases, kselftestSizes('tcg', {}), { cwd: '/faultline/kselftest', hugetlbfs: '/dev/hugepages' });
  t.same(units.map((u) => [u.exec.argv, u.cases.length]), [[['./uffd-unit-tests', '-f', 'register-twice'], 5]], 'one filtered run of uffd-unit-tests gives them');
});
