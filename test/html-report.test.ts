import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ReportScanner, type ScannedReport } from '../runner/console/kernel-reports.js';
import { projectRoot } from '../runner/core/paths.js';
import { compareKernels } from '../runner/model/compare.js';
import { filledResult } from '../runner/model/filled.js';
import { readRun } from '../runner/model/document.js';
import { caseKey, type CaseResult, type PlannedCase, type RunModel } from '../runner/model/types.js';
import { caseConsoles } from '../runner/results/case-console.js';
import { rowIds } from '../runner/reporters/html-attention.js';
import { htmlReport, htmlView, withoutReports } from '../runner/reporters/html.js';
import { chromiumMissing, closeBrowser, inkShare, launch } from './fixtures/browser.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';

// report.html read the way a person reads it: what needs attention first, in the terminal's
// words; the matrix's filter keeping what failed the run; every cell opened and still inside
// the window, on a wide screen and a phone.
const scratch = mkdtempSync(join(tmpdir(), 'faultline-html-'));
t.teardown(async () => {
  await closeBrowser();
  rmSync(scratch, { recursive: true, force: true });
});

// The crash recorded in fixtures/runs/panic-restart: its result (an oops, then the panic) and
// the console lines its case printed.
const panicDir = join(import.meta.dirname, 'fixtures', 'runs', 'panic-restart');
const panicRun = readRun(panicDir);
const crashed = panicRun.results.find((r) => r.status === 'crash')!;
const crashConsole = caseConsoles(panicDir, panicRun)(crashed.kernel, crashed)!;
const oopsTitle = crashed.reports![0]!.title;

const suiteFile = join(projectRoot, 'suites', 'minor-faults.yaml');
const base = kernelRecord('b', 0, { role: 'baseline', label: '6.1.0-57-cloud-amd64', release: '6.1.0-57-cloud-amd64' });
const cand = kernelRecord('c', 1, { role: 'candidate', label: '6.1.0-57-cloud-amd64+3-patches-series-name', release: '6.1.0-57-cloud-amd64' });
const next = kernelRecord('n', 2, { label: 'linux-next-20241025/mm-unstable:ufd-minor-v3', spec: '/usr/src/linux-next/arch/x86/boot/bzImage', release: '6.12.0-rc4-next-20241025-00017-gd3c4ef5a' });
const cases: PlannedCase[] = [
  { suite: 'minor-faults', case: 'lost-feature', file: suiteFile, line: 40 },
  { suite: 'zeropage-dontwake', case: 'dontwake', file: suiteFile, line: 20 },
  { suite: 'minor-faults', case: 'continue-mapped-eexist-shmem', file: suiteFile, line: 73 },
  { suite: 'minor-faults', case: 'accepted', file: suiteFile, line: 120 },
  { suite: 'minor-faults', case: 'hugetlb-private', file: suiteFile, line: 140 },
  { suite: 'minor-faults', case: 'hugetlb-shared', file: suiteFile, line: 150 },
  { suite: 'minor-faults', case: 'swap-out', file: suiteFile, line: 160 },
  { suite: 'minor-faults', case: 'gated', file: suiteFile, line: 170 },
  { suite: 'minor-faults', case: 'quiet', file: suiteFile, line: 180 },
];
const eexist = 'line 86: ioctl CONTINUE: expected errno EEXIST, got EAGAIN (mapped=-11 (-EAGAIN))';
const hugePages = 'needs 64 free huge pages (0 free): sysctl vm.nr_hugepages=64';
const skip = (kernel: string, name: string, reason: string, skipCause: CaseResult['skipCause']): CaseResult => ({ ...result(kernel, 'minor-faults', name, 'skip', reason), skipCause });
const everywhere = (make: (kernel: string) => CaseResult) => [base, cand, next].map((k) => make(k.id));

/** A comparison with a pass that became a skip, a crash with its kernel report, a failure on every
 * kernel (known on the compared two, as the baseline shares it), an expected failure, resource and
 * release skips, a quiet case, and kernel labels long enough to wrap. */
function richModel(): RunModel {
  const { model } = modelOf({
    kernels: [base, cand, next],
    cases,
    results: [
      result(base.id, 'minor-faults', 'lost-feature', 'pass'),
      skip(cand.id, 'lost-feature', 'kernel lacks UFFD_FEATURE_MINOR_SHMEM', 'feature'),
      result(next.id, 'minor-faults', 'lost-feature', 'pass'),
      result(base.id, 'zeropage-dontwake', 'dontwake', 'pass'),
      result(cand.id, 'zeropage-dontwake', 'dontwake', 'pass'),
      { ...crashed, kernel: next.id, excerpt: undefined },
      ...everywhere((k) => ({ ...result(k, 'minor-faults', 'continue-mapped-eexist-shmem', 'fail', eexist), stepLine: 86 })),
      result(base.id, 'minor-faults', 'accepted', 'pass'),
      result(cand.id, 'minor-faults', 'accepted', 'pass'),
      { ...result(next.id, 'minor-faults', 'accepted', 'fail', 'line 124: event: expected PAGEFAULT, got nothing'), stepLine: 124, expected: { reason: 'fixed by v4 of the series', entry: 'expect.yaml:3' } },
      ...everywhere((k) => skip(k, 'hugetlb-private', hugePages, 'resource')),
      ...everywhere((k) => skip(k, 'hugetlb-shared', hugePages, 'resource')),
      ...everywhere((k) => skip(k, 'swap-out', 'needs swap: swapon /swapfile', 'resource')),
      ...everywhere((k) => skip(k, 'gated', 'needs kernel 6.14 or newer', 'release')),
      ...everywhere((k) => result(k, 'minor-faults', 'quiet', 'pass')),
    ],
  });
  model.comparisons = [compareKernels({ baseline: base, candidate: cand, results: model.results, order: cases })];
  model.expectations = { entries: [], expired: [], stale: [], strict: false };
  return model;
}
const consoles = (kernel: string, ref: { suite: string; case: string }) => (kernel === next.id && caseKey(ref) === caseKey(crashed) ? crashConsole : null);

t.test('the view: what needs attention, in order, each item linked to its row; the filter keeps those rows', async (t) => {
  const view = htmlView(richModel(), consoles);
  t.same(view.attention?.counters, [
    { text: '1 regression', href: '#attention-regression' },
    { text: '2 failures', href: '#attention-failure' },
    { text: '2 known', href: '#attention-known' },
  ], 'the terminal\'s counters, each a link to its tier');
  const items = view.attention!.tiers.flatMap((tier) => tier.items.map((x) => [tier.tier, x.what, x.key, x.kernels.join(', '), x.place, x.href]));
  t.same(items, [
    ['regression', 'regression: ok -> skip', 'minor-faults/lost-feature', cand.label, 'suites/minor-faults.yaml:40', '#case-minor-faults-lost-feature'],
    ['failure', 'CRASH', 'zeropage-dontwake/dontwake', next.label, 'suites/minor-faults.yaml:20', '#case-zeropage-dontwake-dontwake'],
    ['failure', 'FAIL', 'minor-faults/continue-mapped-eexist-shmem', next.label, 'suites/minor-faults.yaml:86', '#case-minor-faults-continue-mapped-eexist-shmem'],
    ['known', 'FAIL', 'minor-faults/continue-mapped-eexist-shmem', `${base.label}, ${cand.label}`, 'suites/minor-faults.yaml:86', '#case-minor-faults-continue-mapped-eexist-shmem'],
    ['known', 'FAIL', 'minor-faults/accepted', next.label, 'suites/minor-faults.yaml:124', '#case-minor-faults-accepted'],
  ], 'regressions, failures, known; the same failure on two kernels one item; the failing step\'s line');
  t.equal(view.attention!.tiers[1]!.items[0]!.report?.title, `kernel oops: ${oopsTitle}`);
  t.equal(view.attention!.tiers[2]!.items[1]!.known, 'fixed by v4 of the series (expect.yaml:3)');
  t.same(view.rows.filter((r) => !r.quiet).map((r) => r.key), ['minor-faults/lost-feature', 'zeropage-dontwake/dontwake', 'minor-faults/continue-mapped-eexist-shmem', 'minor-faults/accepted'], 'the pass that became a skip is kept though no cell failed');
  t.same([view.attentionCount, view.filterOn], [4, true]);
  t.equal(view.skips, 'skipped: 3 for their kernel release, 1 for a feature the kernel lacks, 9 for resources this machine lacks:');
  t.same(view.fixes, [`6 x ${hugePages}`, '3 x needs swap: swapon /swapfile']);

  const calm = htmlView(modelOf({ kernels: [base], cases: cases.slice(0, 1), results: [result(base.id, 'minor-faults', 'lost-feature', 'pass')] }).model, null);
  t.same([calm.attention, calm.filterOn, calm.skips, calm.fixes], [null, false, null, []], 'nothing needs attention: no block, the filter off');
  t.notMatch(htmlReport(modelOf({ kernels: [base], cases: cases.slice(0, 1), results: [result(base.id, 'minor-faults', 'lost-feature', 'pass')] }).model, null), 'id="attention"');
});

t.test('cases the runner left with one reason: one item naming a few, every row kept', async (t) => {
  const k = kernelRecord('k', 0);
  const many = Array.from({ length: 8 }, (_, i) => ({ suite: 's', case: `c${i}` }));
  const model = modelOf({ kernels: [k], cases: many, results: many.map((c) => filledResult('k', c, { status: 'error', cause: 'guest-died', detail: 'the guest died during s/c0' })) }).model;
  const view = htmlView(model, null);
  t.same(view.attention?.tiers.map((x) => x.items.map((i) => [i.key, i.more?.count, i.more?.cases.map((m) => m.href), i.more?.rest])), [[['s/c0', '7 more cases', ['#case-s-c1', '#case-s-c2', '#case-s-c3', '#case-s-c4', '#case-s-c5'], '… (2 more)']]]);
  t.equal(view.rows.filter((r) => !r.quiet).length, 8);
  t.match(htmlReport(model, null), /and 7 more cases with the same reason: <a class="mono name" href="#case-s-c1">s\/<wbr>c1<\/a>, .*, … \(2 more\)<\/p>/);
});

t.test('row ids: from the case key, sanitized, and unique', async (t) => {
  t.same([...rowIds(['s/a', 's-a', 's/a b', 'x/<a>"', 's-a-2']).values()], ['case-s-a', 'case-s-a-2', 'case-s-a-b', 'case-x-a-', 'case-s-a-2-2']);
});

t.test('names break after - / : . only; every value escaped first', async (t) => {
  const k = kernelRecord('k', 0, { label: '<b>6.1-rc1</b>&x' });
  const html = htmlReport(modelOf({ kernels: [k], cases: [{ suite: 's', case: 'a' }], results: [result('k', 's', 'a', 'fail', '<script>alert(1)</script>')] }).model, null);
  t.match(html, '&lt;b&gt;6.<wbr>1-<wbr>rc1&lt;/<wbr>b&gt;&amp;x', 'escaped, then a <wbr> after each break character');
  t.notMatch(html, /<b>|<script>alert/);
  t.notMatch(htmlReport(richModel(), consoles), /(?<![-/:.])<wbr>/, 'no <wbr> but after - / : .');
});

t.test('the console of a case leaves out its kernel reports, which the cell shows above it', async (t) => {
  const scanned: ScannedReport[] = [];
  const scanner = new ReportScanner((r) => scanned.push(r));
  const log = readFileSync(join(import.meta.dirname, 'fixtures', 'console', 'oops.log'), 'utf8');
  for (const line of log.split('\n')) scanner.line(line);
  scanner.flush();
  const oops = scanned.find((r) => r.kind === 'oops')!;
  const shown = withoutReports(log, [oops]);
  t.equal(shown.split(oops.title).length - 1, 0, 'timestamped lines are matched without their timestamps');
  t.match(shown, `[kernel oops: ${oops.text.split('\n').length} lines, shown above]`);
  t.match(shown, 'record_helper: writing through a NULL pointer', 'the lines around it stay');
  t.equal(withoutReports('a\nb', [oops]), 'a\nb', 'a console without the report is left as it is');

  const cell = withoutReports(crashConsole, crashed.reports!);
  t.equal(cell.split(oopsTitle).length - 1, 0);
  t.match(cell, /^faultline: case zeropage-dontwake\/dontwake begin\r?\n\[kernel oops: \d+ lines, shown above\]/);
  t.match(cell, /\[kernel panic: 2 lines, shown above\]/);
});

t.test('in headless Chromium, wide and narrow: attention first, the filter, every cell opened inside the window', { skip: chromiumMissing ?? false }, async (t) => {
  const file = join(scratch, 'report.html');
  writeFileSync(file, htmlReport(richModel(), consoles));
  const browser = await launch();
  for (const viewport of [{ width: 1400, height: 900 }, { width: 390, height: 844 }]) {
    const at = `${viewport.width}px`;
    const page = await browser.newPage({ viewport });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);

    const top = await page.evaluate(() => {
      const block = document.querySelector('#attention')!;
      const first = block.querySelector('li')!;
      return {
        before: Boolean(block.compareDocumentPosition(document.querySelector('#kernels')!) & Node.DOCUMENT_POSITION_FOLLOWING),
        afterVerdict: Boolean(document.querySelector('#verdict')!.compareDocumentPosition(block) & Node.DOCUMENT_POSITION_FOLLOWING),
        heading: block.querySelector('h2')!.textContent,
        tiers: [...block.querySelectorAll('h3')].map((h) => h.textContent),
        first: { tier: first.closest('ul')!.previousElementSibling!.id, text: first.textContent!.replace(/\s+/g, ' ').trim(), place: first.querySelector('.place')?.textContent, reason: first.querySelector('.reason')?.textContent },
        counters: [...block.querySelectorAll('h2 a')].map((a) => ({ href: a.getAttribute('href'), exists: document.querySelector(a.getAttribute('href')!) !== null })),
        links: [...block.querySelectorAll('li a')].map((a) => {
          const row = document.querySelector(a.getAttribute('href')!);
          return { href: a.getAttribute('href'), row: row?.tagName, shown: row ? getComputedStyle(row).display !== 'none' : false, sameCase: row?.getAttribute('data-case') === a.textContent };
        }),
      };
    });
    t.ok(top.before && top.afterVerdict, `${at}: the block sits between the verdict and the kernels table`);
    t.equal(top.heading, 'Needs attention: 1 regression, 2 failures, 2 known');
    t.same(top.tiers, ['regressions: these fail the run', 'failures', 'known failures: these do not fail the run']);
    t.same(top.first, { tier: 'attention-regression', text: `regression: ok -> skip minor-faults/lost-feature on ${cand.label} suites/minor-faults.yaml:40 kernel lacks UFFD_FEATURE_MINOR_SHMEM`, place: 'suites/minor-faults.yaml:40', reason: 'kernel lacks UFFD_FEATURE_MINOR_SHMEM' }, `${at}: the regression first, its place and reason`);
    t.same(top.counters.map((c) => c.exists), [true, true, true], `${at}: each counter links to its tier: ${top.counters.map((c) => c.href).join(' ')}`);
    t.ok(top.links.length === 5 && top.links.every((l) => l.row === 'TR' && l.shown && l.sameCase), `${at}: each item links to its row in the matrix, which the filter shows`);

    t.ok(await page.locator('#only-attention').isChecked(), `${at}: the filter starts on`);
    const shown = (key: string) => page.locator(`#matrix tr[data-case="${key}"]`).evaluate((r) => getComputedStyle(r).display !== 'none');
    t.ok(await shown('minor-faults/lost-feature'), `${at}: the pass that became a skip is shown`);
    t.notOk(await shown('minor-faults/quiet'), `${at}: a quiet row is hidden`);
    t.notOk(await shown('minor-faults/hugetlb-shared'), `${at}: so is a row of resource skips`);
    t.match(await page.locator('#skips').textContent(), 'skipped: 3 for their kernel release, 1 for a feature the kernel lacks, 9 for resources this machine lacks:');
    t.same(await page.locator('.fixes li').allTextContents(), [`6 x ${hugePages}`, '3 x needs swap: swapon /swapfile']);

    // Every <details> open, the attention block's and every cell's: the worst case for width.
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
    const layout = await page.evaluate(() => {
      const visible = (e: Element) => e.getClientRects().length > 0;
      const lineHeight = parseFloat(getComputedStyle(document.body).lineHeight);
      return {
        innerWidth: window.innerWidth,
        scrollWidth: document.documentElement.scrollWidth,
        tables: [...document.querySelectorAll('table')].map((e) => ({ id: e.id || e.className, width: Math.round(e.getBoundingClientRect().width) })),
        beyond: [...document.querySelectorAll('body *')].filter((e) => visible(e) && e.getBoundingClientRect().right > window.innerWidth + 0.5).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
        scrolled: [...document.querySelectorAll('pre')].filter((p) => visible(p) && (p.scrollHeight > p.clientHeight + 1 || p.scrollWidth > p.clientWidth + 1)).length,
        pres: document.querySelectorAll('pre').length,
        // Where a name's characters move to a new line: only after - / : . (or a space).
        badBreaks: [...document.querySelectorAll('.name')].filter(visible).flatMap((el) => {
          const bad: string[] = [];
          let prev: { top: number; ch: string } | null = null;
          const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
            for (let i = 0; i < node.data.length; i++) {
              const range = document.createRange();
              range.setStart(node, i);
              range.setEnd(node, i + 1);
              const rect = range.getClientRects()[0];
              if (!rect) continue;
              if (prev && rect.top > prev.top + 2 && !/[-/:. ]/.test(prev.ch) && node.data[i] !== ' ') bad.push(`${el.textContent} after "${prev.ch}"`);
              prev = { top: rect.top, ch: node.data[i]! };
            }
          }
          return bad;
        }),
        labelLines: [...document.querySelectorAll('.kernel')].filter(visible).map((e) => Math.round(e.getBoundingClientRect().height / lineHeight)),
        // The oops title in each opened crash cell's text: the report once, not again in its console.
        titles: [...document.querySelectorAll('#matrix td[data-status="crash"]')].map((td) => ({
          pres: [...td.querySelectorAll('pre')].map((p) => p.textContent!).join('\n'),
          console: td.querySelector('pre.console')?.textContent ?? '',
        })),
      };
    });
    t.comment(`${at}: page ${layout.scrollWidth}px in a ${layout.innerWidth}px window; tables ${layout.tables.map((x) => `${x.id} ${x.width}px`).join(', ')}; kernel labels in ${layout.labelLines.join(', ')} lines`);
    t.ok(layout.scrollWidth <= layout.innerWidth, `${at}: the page does not scroll sideways (${layout.scrollWidth}px)`);
    t.ok(layout.tables.every((x) => x.width <= layout.innerWidth), `${at}: no table is wider than the window`);
    t.same(layout.beyond, [], `${at}: no element reaches past the window's right edge`);
    t.equal(layout.scrolled, 0, `${at}: none of ${layout.pres} <pre> scrolls inside itself`);
    t.same(layout.badBreaks, [], `${at}: names break only after - / : .`);
    t.ok(layout.labelLines.every((n) => n <= 3), `${at}: a kernel label takes a few lines at most (${layout.labelLines.join(', ')})`);
    t.equal(layout.titles.length, 1);
    for (const cell of layout.titles) {
      t.equal(cell.pres.split(oopsTitle).length - 1, 1, `${at}: the oops text once in its cell`);
      t.match(cell.console, /\[kernel oops: \d+ lines, shown above\]/, `${at}: the console says where it was`);
    }

    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(scratch, `report-${viewport.width}.png`), shot);
    const ink = await inkShare(page, shot);
    t.ok(ink > 0.02, `${at}: the screenshot is not blank (${(ink * 100).toFixed(1)}% ink)`);
    t.same(requests, [`file://${file}`], `${at}: nothing is fetched but the file itself`);
    await page.close();
  }
});
