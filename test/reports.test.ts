import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { projectRoot } from '../runner/core/paths.js';
import { readRun } from '../runner/model/document.js';
import type { CaseResult, RunModel } from '../runner/model/types.js';
import { caseConsoles } from '../runner/results/case-console.js';
import { escapeData, escapeProperty, githubAnnotations, stepSummary, summaryLimit } from '../runner/reporters/github.js';
import { displayPath } from '../runner/reporters/case-view.js';
import { htmlReport, htmlView } from '../runner/reporters/html.js';
import { compareKernels } from '../runner/model/compare.js';
import { junitXml } from '../runner/reporters/junit.js';
import { chromiumMissing, closeBrowser, inkShare, launch } from './fixtures/browser.js';
import { assertJunitValid } from './fixtures/junit-schema.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';

// Every report rendered from the run model, and read back by what reads it in the world: JUnit
// by junitparser and validated against the Jenkins xunit plugin's schema, the HTML by headless Chromium, GitHub's commands by their rules.
const runs = join(import.meta.dirname, 'fixtures', 'runs');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-reports-'));
t.teardown(async () => {
  await closeBrowser();
  rmSync(scratch, { recursive: true, force: true });
});
const saved = (name: string) => ({ model: readRun(join(runs, name)), consoles: caseConsoles(join(runs, name), readRun(join(runs, name))) });

/** The JUnit file as junitparser (Debian's python3-junitparser) reads it, once it validated
 * against junit-10.xsd (the Jenkins xunit plugin rejects a file that does not). */
async function readJunit(t: Test, xml: string): Promise<JunitRead> {
  const file = join(scratch, `junit-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  await assertJunitValid(t, file);
  const read = await execa('/usr/bin/python3', [join(import.meta.dirname, 'fixtures', 'junit-read.py'), file]);
  return JSON.parse(read.stdout) as JunitRead;
}
interface JunitRead {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  suites: { name: string; tests: number; properties: Record<string, string>; cases: { classname: string; name: string; time: number; attributes: string[]; system_out: string | null; about: { case?: string; step?: string; comparison?: string }; results: { kind: string; type: string | null; message: string | null; text: string | null }[] }[] }[];
}

t.test('JUnit: a testsuite per kernel and suite, read back by junitparser with every count, place and reason', async (t) => {
  const { model, consoles } = saved('panic-restart');
  const read = await readJunit(t, junitXml(model, consoles));
  t.same([read.tests, read.failures, read.errors, read.skipped], [3, 0, 1, 0]);
  t.same(read.suites.map((s) => s.name), ['linux-source-6.1+1 zeropage-dontwake']);
  t.match(read.suites[0]!.properties, { kernel: 'linux-source-6.1+1', 'kernel.release': /^6\.1\.\d+/, accel: 'tcg', timeoutScale: '4' });
  const crashed = read.suites[0]!.cases[1]!;
  t.match(crashed, { classname: 'zeropage-dontwake', name: 'dontwake', about: { case: /zeropage-dontwake\.yaml:20$/ } }, 'one kernel: the suite alone, no release in the classname');
  t.same(crashed.attributes, ['classname', 'name', 'time'], 'where the case is written is in its text, not in attributes the schema lacks');
  t.match(crashed.results[0]!.text, /^case: \S*zeropage-dontwake\.yaml:20\n\nkernel oops: BUG: kernel NULL pointer dereference/, 'its text begins with where the case is written, then the reason');
  t.match(read.suites[0]!.cases[0]!, { results: [], about: { case: /zeropage-dontwake\.yaml:\d+$/ }, system_out: /^case: / }, 'a pass says where it is written in its system-out');
  t.equal(crashed.results[0]!.kind, 'Error');
  t.equal(crashed.results[0]!.type, 'crash');
  t.match(crashed.results[0]!.message, /^kernel oops: BUG: kernel NULL pointer dereference/);
  t.match(crashed.results[0]!.text, /Call Trace:[\s\S]*console:\nfaultline: case zeropage-dontwake\/dontwake begin\n/, 'the kernel reports, then the case\'s console lines');
  t.equal(crashed.time, model.results[1]!.durationMs / 1000);
});

t.test('JUnit: a regression carries its comparison class; a known failure is skipped, saying why', async (t) => {
  const { model, consoles } = saved('baseline-regression');
  const read = await readJunit(t, junitXml(model, consoles));
  t.same([read.tests, read.failures, read.errors, read.skipped], [12, 2, 0, 0]);
  const suiteFile = '<project>/suites/minor-faults.yaml';
  const failed = read.suites[1]!.cases.filter((c) => c.results.length > 0);
  t.same(failed.map((c) => [c.classname, c.name, c.results[0]!.kind, c.results[0]!.type, c.about.case, c.about.comparison]), [
    ['candidate.minor-faults', 'continue-mapped-eexist-shmem', 'Failure', 'regression', `${suiteFile}:73`, 'regression'],
    ['candidate.minor-faults', 'continue-dontwake-eexist-no-wake-shmem', 'Failure', 'regression', `${suiteFile}:89`, 'regression'],
  ], 'each regression a failure of type regression, classed by the kernel\'s role, not its release, its place and class in its text');
  t.match(failed[0]!.results[0]!.message, /^regression \(fail\): line 86: ioctl CONTINUE: expected errno EEXIST/);
  const releases = model.kernels.map((k) => k.release!);
  t.same(releases, ['6.1.192', '6.1.192']);
  for (const c of read.suites.flatMap((s) => s.cases)) t.notOk(releases.some((r) => c.classname.includes(r)), `${c.classname}: no kernel release`);
  t.same(read.suites[1]!.cases.filter((c) => c.results.length === 0).map((c) => c.about.comparison), Array(4).fill('unchanged'), 'a pass keeps its comparison class in its system-out');
  t.same(read.suites[0]!.cases.map((c) => c.about.comparison), Array(6).fill(undefined), 'the baseline\'s cases have none');
  // The failing step's line, which a newer run keeps in run.json (stepLine), follows the case's.
  const stepped: RunModel = { ...model, results: model.results.map((r) => (r.status === 'fail' ? { ...r, stepLine: Number(/^line (\d+): /.exec(r.reason!)![1]) } : r)) };
  const steppedRead = await readJunit(t, junitXml(stepped, consoles));
  const steppedFailed = steppedRead.suites[1]!.cases.filter((c) => c.results.length > 0);
  t.same(steppedFailed.map((c) => [c.about.case, c.about.step]), [[`${suiteFile}:73`, `${suiteFile}:86`], [`${suiteFile}:89`, `${suiteFile}:103`]]);
  t.equal(steppedFailed[0]!.results[0]!.text?.split('\n\n').slice(0, 2).join('\n\n'), `case: ${suiteFile}:73\nstep: ${suiteFile}:86\ncomparison: regression\n\nline 86: ioctl CONTINUE: expected errno EEXIST, got EAGAIN (mapped=-11 (-EAGAIN))`, 'where, then the reason');

  const base = kernelRecord('b', 0, { role: 'baseline', label: '6.1.0-57-cloud-amd64', release: '6.1.0-57-cloud-amd64' });
  const cand = kernelRecord('c', 1, { role: 'candidate', label: '6.1.0-58-cloud-amd64', release: '6.1.0-58-cloud-amd64' });
  const lost = modelOf({ kernels: [base, cand], cases: [{ suite: 's', case: 'a' }], results: [result('b', 's', 'a', 'pass'), { ...result('c', 's', 'a', 'skip', 'kernel lacks UFFD_FEATURE_MINOR_SHMEM'), skipCause: 'feature' as const }] }).model;
  lost.comparisons = [compareKernels({ baseline: base, candidate: cand, results: lost.results })];
  const lostRead = await readJunit(t, junitXml(lost, null));
  t.same([lostRead.failures, lostRead.skipped], [1, 0], 'a pass that became a regressing skip fails the JUnit reader too');
  t.same(lostRead.suites[1]!.cases[0]!.results.map((r) => [r.kind, r.type, r.message]), [['Failure', 'regression', 'regression (skip): kernel lacks UFFD_FEATURE_MINOR_SHMEM']]);
  t.same(lostRead.suites.map((s) => s.cases[0]!.classname), ['baseline.s', 'candidate.s'], 'the role, not the release');

  const k = kernelRecord('k', 0, { label: '6.1.0-56-cloud-amd64', release: '6.1.0-56-cloud-amd64' });
  const planned = { suite: 's', case: 'a', file: join(process.cwd(), 'suite.yaml'), line: 12 };
  const known = modelOf({ kernels: [k], cases: [planned], results: [{ ...result('k', 's', 'a', 'fail', 'EAGAIN'), stepLine: 14, expected: { reason: 'fixed by v2', entry: 'known.yaml:2' } }] }).model;
  const knownRead = await readJunit(t, junitXml(known, null));
  t.same([knownRead.failures, knownRead.skipped], [0, 1], 'known failures do not fail a JUnit reader');
  const knownCase = knownRead.suites[0]!.cases[0]!;
  t.same(knownCase.results.map((r) => [r.kind, r.message]), [['Skipped', 'known fail: fixed by v2 (known.yaml:2); EAGAIN']], 'skipped, marked known, with the expectation\'s reason and entry');
  t.match(knownCase, { classname: 's', about: { case: /suite\.yaml:12$/, step: /suite\.yaml:14$/ } }, 'and where it is written');
  const raw = modelOf({ kernels: [k], cases: [{ suite: 's', case: 'a' }], results: [result('k', 's', 'a', 'crash', 'kernel said \u001b[31mOops\u001b[0m\b\u0000 here')] }).model;
  const rawRead = await readJunit(t, junitXml(raw, null));
  t.equal(rawRead.suites[0]!.cases[0]!.results[0]!.message, 'kernel said \uFFFD[31mOops\uFFFD[0m\uFFFD\uFFFD here', 'control bytes a console carries are replaced, and the file stays XML');
});

t.test('GitHub: an ::error per regression at its file and line, escaped as the runner requires', async (t) => {
  const { model, consoles } = saved('baseline-regression');
  const text = githubAnnotations(model, consoles);
  const errors = text.split('\n').filter((l) => l.startsWith('::error '));
  t.same(errors.map((l) => /file=([^,]+),line=(\d+),title=([^:]+)::/.exec(l)?.slice(1)), [
    ['<project>/suites/minor-faults.yaml', '73', 'regression%3A minor-faults/continue-mapped-eexist-shmem on linux-source-6.1+1'],
    ['<project>/suites/minor-faults.yaml', '89', 'regression%3A minor-faults/continue-dontwake-eexist-no-wake-shmem on linux-source-6.1+1'],
  ]);
  t.match(text, /::group::linux-source-6\.1\+1 minor-faults\/continue-mapped-eexist-shmem: kernel reports and console\n::stop-commands::[0-9a-f]{32}\nconsole:\nfaultline: case minor-faults\/continue-mapped-eexist-shmem begin/);
  t.equal(escapeData('50% done\r\nnext'), '50%25 done%0D%0Anext');
  const suiteFile = join(projectRoot, 'suites', 'minor-faults.yaml');
  t.equal(displayPath(suiteFile, { GITHUB_WORKSPACE: dirname(projectRoot) }), join(basename(projectRoot), 'suites', 'minor-faults.yaml'), 'a checkout inside the workspace: annotated from the workspace');
  t.equal(displayPath(suiteFile, {}), join('suites', 'minor-faults.yaml'));
  t.equal(escapeProperty('a:b,c%'), 'a%3Ab%2Cc%25');
});

t.test('GitHub: past ten annotations the rest are named in one ::notice; reports go in groups', async (t) => {
  const k = kernelRecord('k', 0, { label: 'k' });
  const cases = Array.from({ length: 13 }, (_, i) => ({ suite: 's', case: `c${i}`, file: join(process.cwd(), 'suite.yaml'), line: 10 + i }));
  const oops = { kind: 'oops' as const, title: 'BUG: kernel NULL pointer dereference', text: 'BUG: kernel NULL pointer dereference\n::error this line is kernel text\n  ::endgroup::\n##[error]so is this\nCall Trace:', fatal: true };
  const results: CaseResult[] = cases.map((c, i) => ({ ...result('k', 's', c.case, 'crash', `reason ${i}: 100% gone,\nsecond line`), ...(i === 0 ? { reports: [oops] } : {}) }));
  const text = githubAnnotations(modelOf({ kernels: [k], cases, results }).model, null);
  const lines = text.split('\n');
  // What the runner reads as commands: every line but those between ::stop-commands::T and ::T::.
  let stoppedUntil: string | null = null;
  const commands = lines.filter((l) => {
    if (stoppedUntil) {
      if (l === stoppedUntil) stoppedUntil = null;
      return false;
    }
    if (l.startsWith('::stop-commands::')) stoppedUntil = `::${l.slice('::stop-commands::'.length)}::`;
    return true;
  });
  t.equal(commands.filter((l) => l.startsWith('::error ')).length, 10, 'ten errors, as many as the runner shows');
  t.equal(lines[0], '::error file=suite.yaml,line=10,title=crash%3A s/c0 on k::reason 0: 100%25 gone,%0Asecond line%0A%0ABUG: kernel NULL pointer dereference%0A::error this line is kernel text%0A  ::endgroup::%0A##[error]so is this%0ACall Trace:');
  t.equal(lines.filter((l) => l.startsWith('::notice ')).length, 1);
  t.match(text, '::notice title=faultline%3A 3 more failures::Not annotated (the runner shows 10 per step): k s/c10, k s/c11, k s/c12.');
  const group = /^::group::k s\/c0: kernel reports and console\n::stop-commands::([0-9a-f]{32})\n([^]*?)\n::\1::\n::endgroup::$/m.exec(text);
  t.ok(group, 'kernel text sits between ::stop-commands:: and its end token, inside the group');
  t.equal(group?.[2], oops.text, 'shown as the kernel printed it');
  t.notOk(oops.text.includes(group?.[1] ?? ''), 'the end token is not in the text');
  t.notOk(commands.some((l) => /^\s*(::|##\[)/.test(l) && !/^::(error|notice|group|endgroup|stop-commands)/.test(l)), 'no line of kernel text is read as a command');
});

t.test('the step summary: the verdict, what needs attention first, the table, the comparison; always under 1 MiB', async (t) => {
  const { model } = saved('baseline-regression');
  const summary = stepSummary(model, null, { FAULTLINE_ARTIFACT: 'faultline-results-7-1-userfaultfd' });
  t.match(summary, /^### ❌ faultline: 2 regressions on linux-source-6\.1\+1 against linux-source-6\.1 \(10 passed, 2 failed, 0 skipped\)\n\n\*\*Kernels:\*\* linux-source-6\.1 \(TCG, guest time limits x4\); linux-source-6\.1\+1 \(TCG, guest time limits x4\)\n\n\*\*Report:\*\* `report\.html` in the workflow run's artifact `faultline-results-7-1-userfaultfd`\n\n#### Needs attention: 2 regressions\n\n\*\*Regressions: these fail the run\*\*\n\n- \*\*regression: ok -> FAIL\*\* `minor-faults\/continue-mapped-eexist-shmem` on linux-source-6\.1\+1 at `[^`]*suites\/minor-faults\.yaml:73`: line 86: ioctl CONTINUE: expected errno EEXIST, got EAGAIN/);
  t.notMatch(stepSummary(model, null, {}), 'artifact', 'no artifact named when the action did not say which');
  t.match(summary, '| case | linux-source-6.1 | linux-source-6.1+1 |\n|---|---|---|\n| `minor-faults/continue-mapped-eexist-shmem` | ok | FAIL: line 86: ioctl CONTINUE: expected errno EEXIST, got EAGAIN (mapped=-11 (-EAGAIN)) |', 'each failure with its reason');
  t.match(summary, '#### Comparison\n\n```\nlinux-source-6.1+1 against linux-source-6.1: 2 regressions (4 unchanged)');
  const k = kernelRecord('k', 0);
  const many = Array.from({ length: 6000 }, (_, i) => ({ suite: 's', case: `case-${i}` }));
  const huge: RunModel = modelOf({ kernels: [k], cases: many, results: many.map((c) => result('k', 's', c.case, 'fail', 'x'.repeat(400))) }).model;
  const cut = stepSummary({ ...huge, comparisons: [{ baseline: { id: 'b', label: 'b' }, candidate: { id: 'k', label: 'k' }, counts: { regression: 6000, flaky: 0, fixed: 0, 'still-failing': 0, changed: 0, new: 0, removed: 0, unchanged: 0 }, cases: many.map((c) => ({ ...c, class: 'regression' as const, baseline: { status: 'pass' as const, reason: null }, candidate: { status: 'fail' as const, reason: 'y'.repeat(400) }, newReports: [] })) }] });
  t.ok(Buffer.byteLength(cut) <= summaryLimit, `${Buffer.byteLength(cut)} bytes`);
  t.match(cut, /_The summary was cut here to stay under the 1 MiB GitHub allows; run\.json and report\.html in the results have everything\._\n$/);
});

t.test('HTML in headless Chromium: the matrix, the filter, a cell opening its reason, offline, on a phone and a wide screen', { skip: chromiumMissing ?? false }, async (t) => {
  const { model, consoles } = saved('baseline-regression');
  const file = join(scratch, 'report.html');
  writeFileSync(file, htmlReport(model, consoles));
  const browser = await launch();
  for (const viewport of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
    const page = await browser.newPage({ viewport });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    t.same(requests, [`file://${file}`], `${viewport.width}px: nothing is fetched but the file itself`);
    t.equal(await page.locator('#verdict').textContent(), '2 regressions on linux-source-6.1+1 against linux-source-6.1');
    t.equal(await page.locator('#matrix tbody tr').count(), 6);
    const failed = page.locator('#matrix td[data-status="fail"]');
    t.same(await failed.evaluateAll((cells) => cells.map((c) => `${c.closest('tr')!.getAttribute('data-case')} ${c.getAttribute('data-kernel')} ${c.querySelector('summary')!.textContent}`)), [
      'minor-faults/continue-mapped-eexist-shmem linux-source-6.1+1 FAIL',
      'minor-faults/continue-dontwake-eexist-no-wake-shmem linux-source-6.1+1 FAIL',
    ], 'each status is written, not only coloured');
    t.notOk(await failed.first().locator('.reason').isVisible(), 'the reason waits for a click');
    await failed.first().locator('summary').click();
    t.equal(await failed.first().locator('.reason').textContent(), 'line 86: ioctl CONTINUE: expected errno EEXIST, got EAGAIN (mapped=-11 (-EAGAIN))');
    t.ok(await failed.first().getByText('console while the case ran').isVisible());
    const visible = () => page.locator('#matrix tbody tr').evaluateAll((rows) => rows.filter((r) => getComputedStyle(r).display !== 'none').map((r) => r.getAttribute('data-case')));
    const regressed = ['minor-faults/continue-mapped-eexist-shmem', 'minor-faults/continue-dontwake-eexist-no-wake-shmem'];
    t.ok(await page.locator('#only-attention').isChecked(), 'the run failed: the filter starts on');
    t.same(await visible(), regressed, 'the first screen shows what needs attention');
    await page.locator('#only-attention').uncheck();
    t.equal((await visible()).length, 6, 'and off, every case');
    await page.locator('#only-attention').check();
    t.same(await visible(), regressed);
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), `${viewport.width}px: the page itself does not scroll sideways`);
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(scratch, `report-${viewport.width}.png`), shot);
    const ink = await inkShare(page, shot);
    t.ok(ink > 0.02, `${viewport.width}px: the screenshot is not blank (${(ink * 100).toFixed(1)}% ink)`);
    await page.close();
  }
});

t.test('GitHub: an annotation at the step that failed; a case failing on both kernels is a warning', async (t) => {
  const base = kernelRecord('b', 0, { role: 'baseline', label: 'base' });
  const cand = kernelRecord('c', 1, { role: 'candidate', label: 'series' });
  const cases = [{ suite: 's', case: 'regressed', file: 'suite.yaml', line: 10 }, { suite: 's', case: 'broken', file: 'suite.yaml', line: 20 }];
  const { model } = modelOf({
    kernels: [base, cand],
    cases,
    results: [
      result(base.id, 's', 'regressed', 'pass'),
      { ...result(cand.id, 's', 'regressed', 'fail', 'line 14: ioctl CONTINUE: expected errno EEXIST, got success'), stepLine: 14 },
      { ...result(base.id, 's', 'broken', 'fail', 'line 23: event: expected PAGEFAULT'), stepLine: 23 },
      { ...result(cand.id, 's', 'broken', 'fail', 'line 23: event: expected PAGEFAULT'), stepLine: 23 },
    ],
  });
  model.comparisons = [compareKernels({ baseline: base, candidate: cand, results: model.results, order: cases })];
  const lines = githubAnnotations(model, null).split('\n').filter((l) => /^::(error|warning) /.test(l));
  t.same(lines.map((l) => /^::(\w+) file=suite\.yaml,line=(\d+),title=([^:]+)::/.exec(l)?.slice(1)), [
    ['error', '14', 'regression%3A s/regressed on series'],
    ['warning', '23', 'unchanged%3A s/broken on series'],
  ]);
});

t.test('HTML: the filter keeps every row that needs attention, a pass that became a skip included', async (t) => {
  const base = kernelRecord('b', 0, { role: 'baseline' });
  const cand = kernelRecord('c', 1, { role: 'candidate' });
  const cases = [{ suite: 's', case: 'lost-feature' }, { suite: 's', case: 'gated' }, { suite: 's', case: 'fine' }];
  const { model } = modelOf({
    kernels: [base, cand],
    cases,
    results: [
      ...cases.map((c) => result(base.id, c.suite, c.case, 'pass')),
      { ...result(cand.id, 's', 'lost-feature', 'skip', 'kernel lacks UFFD_FEATURE_MINOR_SHMEM'), skipCause: 'feature' as const },
      { ...result(cand.id, 's', 'gated', 'skip', 'needs kernel 6.4 or newer (running 6.1.0)'), skipCause: 'release' as const },
      result(cand.id, 's', 'fine', 'pass'),
    ],
  });
  model.comparisons = [compareKernels({ baseline: base, candidate: cand, results: model.results, order: cases })];
  const view = htmlView(model, null);
  t.same(view.rows.filter((r) => !r.quiet).map((r) => r.key), ['s/lost-feature'], 'the regression, though no cell failed; not the release gate');
  t.same([view.attentionCount, view.filterOn], [1, true]);
  const calm = htmlView(modelOf({ kernels: [base], cases, results: cases.map((c) => result(base.id, c.suite, c.case, 'pass')) }).model, null);
  t.same([calm.attentionCount, calm.filterOn], [0, false], 'nothing to see: the filter starts off');
});

t.test('HTML: kernel text is escaped, never markup', async (t) => {
  const k = kernelRecord('k', 0, { label: '<b>k</b>' });
  const html = htmlReport(modelOf({ kernels: [k], cases: [{ suite: 's', case: 'a' }], results: [result('k', 's', 'a', 'fail', '<script>alert(1)</script>')] }).model, null);
  t.notMatch(html, /<script>alert/);
  t.match(html, '&lt;script&gt;alert(1)&lt;/script&gt;');
  t.notMatch(html, /<b>k<\/b>/);
});
