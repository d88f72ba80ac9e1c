import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import type { RunModel as RunDocument } from '../runner/model/types.js';
import { linuxSource612, linuxTreeOf } from './fixtures/linux-tree.js';
import { assertRunValid } from './fixtures/run-schema.js';

// The newest tree faultline supports, as a patch author uses it: Debian's linux-source-6.12,
// tinyconfig + the shipped fragment (which resolves BASE_SMALL, not 6.1's BASE_FULL), the default
// suites and the tree's own selftests in one guest, then a 6.12-only fixture under --baseline.
// The kernel is built once per machine and cached like 6.1's.
if (linuxSource612.missing) t.plan(0, linuxSource612.missing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-source-612-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSource612.missing ? '' : await linuxTreeOf(linuxSource612, cacheDir());
const defaultSuites = ['--suite', 'suites/minor-faults.yaml', '--suite', 'suites/missing-faults.yaml'];

const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const readRun = (dir: string): RunDocument => assertRunValid(t, dir);

t.test('the default suites and kselftest:userfaultfd pass on a 6.12 tinyconfig guest', async (t) => {
  const dir = join(scratch, 'all');
  const run = await faultline(['run', '--tree', tree, ...defaultSuites, '--suite', 'kselftest:userfaultfd', '--results', dir]);
  if (!t.equal(run.exitCode, 0, 'exit 0')) t.comment(run.stdout + run.stderr);
  const doc = readRun(dir);
  t.match(doc.kernels[0], { label: 'linux-source-6.12', release: /^6\.12\./ });
  for (const r of doc.results) t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.suite}/${r.case}: ${r.status} ${r.reason ?? ''}`);
  const status = (suite: string, name: string) => doc.results.find((r) => r.suite === suite && r.case === name)?.status;
  for (const name of ['continue-mode-wp-shmem', 'continue-mode-wp-hugetlb']) t.equal(status('minor-faults', name), 'pass', `${name}: the 6.4+ CONTINUE with MODE_WP passes`);
  t.equal(status('minor-faults', 'thp-continue-subpage-shmem'), 'pass', 'BASE_SMALL is off: the THP case gets its huge page');
  const selftests = doc.results.filter((r) => r.suite === 'kselftest-userfaultfd');
  const passed = (prefix: string) => selftests.filter((r) => r.case.startsWith(prefix) && r.status === 'pass').length;
  t.ok(passed('unit-') >= 40, `uffd-unit-tests: ${passed('unit-')} of ${selftests.filter((r) => r.case.startsWith('unit-')).length} passed`);
  t.equal(passed('stress-'), 5, 'uffd-stress passes on all five memory types');
  for (const name of ['unit-minor-shmem', 'unit-minor-wp-shmem', 'unit-move-anon', 'unit-poison-shmem']) t.equal(status('kselftest-userfaultfd', name), 'pass', name);
});

t.test('a fragment line naming an option the tree lacks is named and skipped; the kernel is the same', async (t) => {
  const fragment = join(scratch, 'extra.config');
  writeFileSync(fragment, '# an option 6.12 does not have\nCONFIG_BASE_FULL=y\n');
  const run = await faultline(['run', '--tree', tree, '--config', fragment, '--suite', 'suites/minor-faults.yaml', '--case', 'read-minor-continue-shmem', '--results', join(scratch, 'extra')]);
  if (!t.equal(run.exitCode, 0, 'exit 0')) t.comment(run.stdout + run.stderr);
  t.match(run.stdout, `note: linux-source-6.12: "CONFIG_BASE_FULL=y" [${fragment}:2] is not in this kernel: skipped\n`);
  t.match(run.stdout, /^kernel .*\(cached\)/m, 'nothing merged differs, so the build is the cached one');
  t.equal(readRun(join(scratch, 'extra')).results[0]?.status, 'pass');
});

t.test('--baseline on 6.12: a fixture that drops CONTINUE\'s MODE_WP is named as the one regression', async (t) => {
  const dir = join(scratch, 'baseline');
  const patches = join(root, 'test', 'fixtures', 'patches', 'continue-drops-wp-6.12');
  t.equal(readdirSync(patches).length, 1);
  const run = await faultline(['run', '--tree', tree, '--patches', patches, '--baseline', '--suite', 'suites/minor-faults.yaml', '--results', dir]);
  if (!t.equal(run.exitCode, 1, 'exit 1: a regression')) t.comment(run.stdout + run.stderr);
  const doc = readRun(dir);
  t.same(doc.kernels.map((k) => [k.label, k.role]), [['linux-source-6.12', 'baseline'], ['linux-source-6.12+1', 'candidate']]);
  const comparison = doc.comparisons[0]!;
  t.same(comparison.cases.filter((c) => c.class === 'regression').map((c) => `${c.suite}/${c.case}`), ['minor-faults/continue-mode-wp-shmem']);
  t.same(Object.entries(comparison.counts).filter(([cls, n]) => n > 0 && cls !== 'unchanged'), [['regression', 1]], 'nothing else changed');
  const failed = doc.results.find((r) => r.kernel === doc.kernels[1]!.id && r.case === 'continue-mode-wp-shmem');
  t.match(failed?.reason, /event: expected PAGEFAULT/);
  t.match(run.stdout, /^linux-source-6\.12\+1 against linux-source-6\.12: 1 regression \(\d+ unchanged\)$/m);
});
