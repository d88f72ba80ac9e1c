import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import type { RunModel as RunDocument } from '../runner/model/types.js';
import { chromiumMissing, closeBrowser, inkShare, launch } from './fixtures/browser.js';
import { assertJunitValid } from './fixtures/junit-schema.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';
import { assertRunValid } from './fixtures/run-schema.js';
import { reportTellsTheRun } from './fixtures/same-report.js';

// faultline as a patch author uses it: Debian's 6.1 tree, the fixture series, real builds and
// boots. Shares the cached tree and object directory with source-build.test.ts.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const patches = join(root, 'test', 'fixtures', 'patches');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-source-run-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());
const only = (dir: string) => join(patches, dir, readdirSync(join(patches, dir)).find((f) => f.endsWith('.patch'))!);
const breaking = ['minor-faults/continue-dontwake-eexist-no-wake-shmem', 'minor-faults/continue-mapped-eexist-shmem'];


// The fixtures here break minor-faults cases; the runs take the suites those cases are in, so what
// fails is theirs alone (fork-events has a known 6.1 failure of its own, accepted by
// suites/expect/known-failures.yaml, and its fixtures are measured in the patches' README).
const defaultSuites = ['--suite', 'suites/minor-faults.yaml', '--suite', 'suites/missing-faults.yaml'];
const faultline = (args: string[]) => execa('node', [cli, ...args, ...(args[0] === 'run' ? defaultSuites : [])], { cwd: root, reject: false, env: { CI: 'true' } });
const readRun = (dir: string): RunDocument => assertRunValid(t, dir);
const failing = (doc: RunDocument) => doc.results.filter((r) => r.status !== 'pass' && r.status !== 'skip').map((r) => `${r.suite}/${r.case}`).sort();

t.test('a patch that breaks minor faults is caught: exit 1, the failing cases named', async (t) => {
  const dir = join(scratch, 'breaks');
  const run = await faultline(['run', '--tree', tree, '--patches', only('breaks-minor'), '--results', dir]);
  t.equal(run.exitCode, 1, run.stdout + run.stderr);
  const doc = readRun(dir);
  t.same(failing(doc), breaking);
  const named = doc.results.filter((r) => breaking.includes(`${r.suite}/${r.case}`));
  t.same(named.map((r) => r.status), ['fail', 'fail']);
  for (const r of named) t.match(r.reason, /: ioctl CONTINUE: expected errno EEXIST, got EAGAIN/, r.case);
  t.match(doc.kernels[0], { id: /^source-[0-9a-f]{24}$/, label: 'linux-source-6.1+1', release: /^6\.1\.\d+/ });
});

t.test('a harmless patch changes nothing the suites see, and a second run builds nothing', async (t) => {
  const first = await faultline(['run', '--tree', tree, '--patches', only('harmless'), '--results', join(scratch, 'harmless')]);
  t.equal(first.exitCode, 0, first.stdout + first.stderr);
  const doc = readRun(join(scratch, 'harmless'));
  for (const r of doc.results) t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.case}: ${r.status} ${r.reason ?? ''}`);
  t.equal(doc.results.find((r) => r.case === 'swapped-out-minor-shmem')?.status, 'pass', 'the shipped fragment gives the guest NVMe swap');
  for (const r of doc.results.filter((r) => r.status === 'skip')) t.match(r.reason, /^needs kernel 6\.4 or newer/, `${r.case} skips only for its release`);

  const again = await faultline(['run', '--tree', tree, '--patches', only('harmless'), '--results', join(scratch, 'harmless2'), '--case', 'read-minor']);
  t.equal(again.exitCode, 0, again.stdout + again.stderr);
  t.match(again.stdout, /^kernel .*\(cached\)/m, 'the kernel stage reports a cached build');
  t.notMatch(again.stdout, /^kernel (copy|patch|config|compile|headers)$/m, 'no build step ran');
});

t.test('--baseline: the tree alone against the tree + series; exactly the breaking fixture\'s cases are regressions', async (t) => {
  const dir = join(scratch, 'baseline-breaks');
  const summary = join(scratch, 'step-summary.md');
  const junit = join(scratch, 'baseline.junit.xml');
  const run = await execa('node', [cli, 'run', '--tree', tree, '--patches', only('breaks-minor'), '--baseline', '--junit', junit, '--results', dir, ...defaultSuites], {
    cwd: root,
    reject: false,
    env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary },
  });
  if (!t.equal(run.exitCode, 1, 'exit 1: regressions')) t.comment(run.stdout + run.stderr);
  const doc = readRun(dir);
  t.same(doc.kernels.map((k) => [k.label, k.role]), [['linux-source-6.1', 'baseline'], ['linux-source-6.1+1', 'candidate']]);
  const comparison = doc.comparisons[0]!;
  t.same(comparison.cases.filter((c) => c.class === 'regression').map((c) => `${c.suite}/${c.case}`).sort(), breaking);
  t.same(Object.entries(comparison.counts).filter(([cls, n]) => n > 0 && cls !== 'unchanged'), [['regression', 2]], 'nothing else changed');
  for (const c of comparison.cases.filter((x) => x.class === 'regression')) t.same(c.attempts, { baseline: ['pass', 'pass', 'pass'], candidate: ['fail', 'fail', 'fail'] }, `${c.case} rerun twice on both kernels`);
  t.same(JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')).comparisons, doc.comparisons, 'compare.json beside run.json');
  t.match(run.stdout, /^linux-source-6\.1\+1 against linux-source-6\.1: 2 regressions \(\d+ unchanged\)$/m);

  t.test('where people and CI look: JUnit, annotations, the step summary, the HTML report; and all of it told again from the saved run', async (t) => {
    const suite = readFileSync(join(root, 'suites', 'minor-faults.yaml'), 'utf8').split('\n');
    const lineOf = (name: string) => suite.findIndex((l) => l.trim() === `- name: ${name}`) + 1;
    await assertJunitValid(t, junit);
    const read = JSON.parse((await execa('/usr/bin/python3', [join(root, 'test', 'fixtures', 'junit-read.py'), junit])).stdout) as { failures: number; suites: { cases: { name: string; about: { case?: string; step?: string; comparison?: string }; results: { kind: string; type: string }[] }[] }[] };
    t.equal(read.failures, 2, 'junitparser reads two failures');
    // junit-10.xsd has no file/line on a testcase: where the case is written begins its failure text.
    const junitFailures = read.suites.flatMap((s) => s.cases).filter((c) => c.results.some((r) => r.kind === 'Failure'));
    t.same(junitFailures.map((c) => [c.name, c.results[0]!.type, c.about.case, c.about.comparison]), [
      ['continue-mapped-eexist-shmem', 'regression', `suites/minor-faults.yaml:${lineOf('continue-mapped-eexist')}`, 'regression'],
      ['continue-dontwake-eexist-no-wake-shmem', 'regression', `suites/minor-faults.yaml:${lineOf('continue-dontwake-eexist-no-wake')}`, 'regression'],
    ]);
    // The failing step: the line its reason names ("line 86: ioctl CONTINUE: ..."), kept in run.json.
    const candidate = doc.kernels[1]!.id;
    const stepOf = (name: string) => {
      const r = doc.results.find((x) => x.kernel === candidate && x.case === name)!;
      t.equal(r.stepLine, Number(/^line (\d+): /.exec(r.reason ?? '')?.[1]), `${name}: run.json keeps the line its reason names`);
      t.ok(r.stepLine! > lineOf(name.replace(/-shmem$/, '')), 'a step of that case, below its name');
      return String(r.stepLine);
    };
    const annotations = run.stdout.split('\n').filter((l) => l.startsWith('::error '));
    t.same(annotations.map((l) => /^::error file=([^,]+),line=(\d+),title=regression%3A (\S+) on /.exec(l)?.slice(1)), [
      ['suites/minor-faults.yaml', stepOf('continue-mapped-eexist-shmem'), 'minor-faults/continue-mapped-eexist-shmem'],
      ['suites/minor-faults.yaml', stepOf('continue-dontwake-eexist-no-wake-shmem'), 'minor-faults/continue-dontwake-eexist-no-wake-shmem'],
    ], 'an annotation at each regressed case\'s failing step');
    t.same(junitFailures.map((c) => c.about.step), [`suites/minor-faults.yaml:${stepOf('continue-mapped-eexist-shmem')}`, `suites/minor-faults.yaml:${stepOf('continue-dontwake-eexist-no-wake-shmem')}`], 'and the JUnit failure names that step too');
    const written = readFileSync(summary, 'utf8');
    t.match(written, /^### ❌ faultline: 2 regressions on linux-source-6\.1\+1 against linux-source-6\.1 /);
    const stepOfKey = (key: string) => stepOf(key.slice(key.indexOf('/') + 1));
    for (const name of breaking) t.match(written, `- **regression: ok -> FAIL** \`${name}\` on linux-source-6.1+1 at \`suites/minor-faults.yaml:${stepOfKey(name)}\`: line ${stepOfKey(name)}: `, 'what needs attention names the case, its failing step and its reason');
    t.match(run.stdout, /\nneeds attention: 2 regressions\n regressions: these fail the run\n/, 'the terminal ends with the same block');
    for (const name of breaking) t.match(run.stdout, `  regression: ok -> FAIL  ${name} on linux-source-6.1+1  suites/minor-faults.yaml:${stepOfKey(name)}\n      line ${stepOfKey(name)}: `);
    if (!chromiumMissing) {
      const page = await (await launch()).newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`file://${join(dir, 'report.html')}`);
      t.ok(await page.locator('#only-attention').isChecked(), 'the filter starts on');
      const shown = await page.locator('#matrix tbody tr').evaluateAll((rows) => rows.filter((r) => getComputedStyle(r).display !== 'none').map((r) => `${r.getAttribute('data-case')} ${[...r.querySelectorAll('td[data-status]')].map((c) => c.getAttribute('data-status')).join(' ')}`));
      t.same(shown.sort(), breaking.map((name) => `${name} pass fail`).sort(), 'the HTML report shows the two regressions');
      const shot = await page.screenshot({ fullPage: true });
      t.ok((await inkShare(page, shot)) > 0.02, 'its screenshot is not blank');
      await closeBrowser();
    } else t.comment(chromiumMissing);

    await reportTellsTheRun(t, cli, root, scratch, { dir, stdout: run.stdout, exitCode: run.exitCode, junit, summary });
  });

  const harmless = await faultline(['run', '--tree', tree, '--patches', only('harmless'), '--baseline', '--results', join(scratch, 'baseline-harmless')]);
  if (!t.equal(harmless.exitCode, 0, 'the harmless series: exit 0')) t.comment(harmless.stdout + harmless.stderr);
  const calm = readRun(join(scratch, 'baseline-harmless')).comparisons[0]!;
  t.same(Object.entries(calm.counts).filter(([cls, n]) => n > 0 && cls !== 'unchanged'), [], 'no regression, nothing changed');
  t.same(readRun(join(scratch, 'baseline-harmless')).reruns, [], 'nothing to rerun');
});

t.test('faultline build prints the bzImage path', async (t) => {
  const build = await faultline(['build', '--tree', tree, '--patches', only('harmless')]);
  t.equal(build.exitCode, 0, build.stderr);
  const image = build.stdout.trim();
  t.ok(existsSync(image), image);
  t.match(build.stderr, /^kernel .*\(cached\)/m);
});

t.test('a patch that does not apply stops the run with exit 3, naming the patch, file and hunk', async (t) => {
  const patch = only('does-not-apply');
  const run = await faultline(['run', '--tree', tree, '--patches', patch, '--results', join(scratch, 'noapply')]);
  t.equal(run.exitCode, 3);
  t.match(run.stderr, /patch 1\/1 \S+ does not apply: mm\/userfaultfd\.c: hunk #1 \(@@ -280,\d+ \+280,\d+ @@\) does not match the tree/);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

t.test('--per-patch on a three-patch mbox names the patch that breaks each case', async (t) => {
  const dir = join(scratch, 'per-patch');
  const run = await faultline(['run', '--tree', tree, '--patches', join(patches, 'series-3.mbox'), '--per-patch', '--results', dir]);
  t.equal(run.exitCode, 1, run.stdout + run.stderr);
  const doc = readRun(dir);
  t.same(doc.kernels.map((k) => k.label), ['linux-source-6.1', 'linux-source-6.1+1', 'linux-source-6.1+2', 'linux-source-6.1+3']);
  const base = doc.results.filter((r) => r.kernel === doc.kernels[0]!.id);
  t.ok(base.length >= 60 && base.every((r) => r.status === 'pass' || (r.status === 'skip' && r.reason)), 'the unpatched tinyconfig kernel passes or skips everything');
  const table = readFileSync(join(dir, 'per-patch.txt'), 'utf8');
  for (const name of breaking) t.match(table, new RegExp(`^${name} +pass +pass +fail\\* +fail +\\[PATCH 2/3\\] mm/userfaultfd: return -EAGAIN`, 'm'), `${name} first fails at patch 2`);
  t.match(run.stdout, /^\d+ cases unchanged across the series$/m);
  t.same([...new Set(failing(doc))], breaking, 'nothing else changed');
});
