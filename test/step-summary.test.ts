import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readRun } from '../runner/model/document.js';
import type { RunModel } from '../runner/model/types.js';
import { caseConsoles } from '../runner/results/case-console.js';
import { stepSummary } from '../runner/reporters/github.js';
import { chromiumMissing, closeBrowser, launch } from './fixtures/browser.js';
import { skipUnlessCi } from './fixtures/ci-needs.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';

// The step summary as GitHub shows it: rendered by cmark-gfm (the renderer GitHub's Markdown is
// built on, with its table and tag-filter extensions), then read in headless Chromium as the page
// a person opens: what needs attention as a list, each kernel report folded in a <details> with
// its call trace inside, the table of what did not pass, and no markup from kernel text.
const cmark = '/usr/bin/cmark-gfm';
const missing = skipUnlessCi(existsSync(cmark) ? null : `${cmark} is absent: apt-get install cmark-gfm`) ?? chromiumMissing;
const runs = join(import.meta.dirname, 'fixtures', 'runs');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-summary-'));
t.teardown(async () => {
  await closeBrowser();
  rmSync(scratch, { recursive: true, force: true });
});

async function rendered(markdown: string) {
  const file = join(scratch, `summary-${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(file, markdown);
  // GitHub lets <details> and <summary> through and filters script-like tags: --unsafe keeps raw
  // HTML, the tagfilter extension does what GitHub's does.
  const html = (await execa(cmark, ['--unsafe', '-e', 'table', '-e', 'tagfilter', '-e', 'autolink', file])).stdout;
  const page = await (await launch()).newPage();
  await page.setContent(`<!doctype html><meta charset="utf-8"><body>${html}</body>`);
  const seen = await page.evaluate(() => ({
    headings: [...document.querySelectorAll('h3, h4')].map((h) => h.textContent ?? ''),
    items: [...document.querySelectorAll('li')].map((li) => (li.querySelector(':scope > p') ?? li).textContent?.trim() ?? ''),
    folds: [...document.querySelectorAll('li details')].map((d) => ({ summary: d.querySelector('summary')?.textContent ?? '', pre: d.querySelector('pre code')?.textContent ?? null })),
    rows: [...document.querySelectorAll('table tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    planted: document.querySelectorAll('script, img, iframe, summary summary').length,
  }));
  await page.close();
  return seen;
}

t.test('a crash: the item names the case, its place and reason; its oops and call trace fold under it', { skip: missing ?? false }, async (t) => {
  const dir = join(runs, 'panic-restart');
  const model = readRun(dir);
  const seen = await rendered(stepSummary(model, caseConsoles(dir, model), { FAULTLINE_ARTIFACT: 'faultline-results-9-1' }));
  t.same(seen.headings.slice(0, 2), ['❌ faultline: 1 case did not pass (2 passed, 0 failed, 0 skipped, 1 crashed)', 'Needs attention: 1 failure']);
  t.match(seen.items[0], /^CRASH zeropage-dontwake\/dontwake on linux-source-6\.1\+1 at \S*zeropage-dontwake\.yaml:20: kernel oops: BUG: kernel NULL pointer dereference/);
  t.equal(seen.folds.length, 1);
  t.equal(seen.folds[0]!.summary, 'kernel oops: BUG: kernel NULL pointer dereference, address: 0000000000000000');
  t.match(seen.folds[0]!.pre, /^RIP: 0010:userfaultfd_ioctl\+0xd81\/0x11f7\n\? do_fault\+0x16c\/0x315\n/, 'the call trace inside the fold, as code');
  t.match(seen.rows, [['zeropage-dontwake/dontwake', /^CRASH: kernel oops: /]]);
});

t.test('a regression: first, with its step; the first lines of its output fold under it, when it printed more than its marks', { skip: missing ?? false }, async (t) => {
  const dir = join(runs, 'baseline-regression');
  const model = readRun(dir);
  const seen = await rendered(stepSummary(model, caseConsoles(dir, model), {}));
  t.equal(seen.headings[1], 'Needs attention: 2 regressions');
  t.match(seen.items[0], /^regression: ok -> FAIL minor-faults\/continue-mapped-eexist-shmem on linux-source-6\.1\+1 at \S*minor-faults\.yaml:\d+: line 86: ioctl CONTINUE: expected errno EEXIST, got EAGAIN/);
  t.equal(seen.folds.length, 0, 'its console holds its begin and end marks alone: nothing to fold');
  const console = '[    1.000001] faultline: case minor-faults/continue-mapped-eexist-shmem begin\n[    1.000002] faultline-out: mapped=-11\n[    1.000003] faultline: case minor-faults/continue-mapped-eexist-shmem end\n';
  const printed = await rendered(stepSummary(model, (kernel, ref) => (ref.case === 'continue-mapped-eexist-shmem' && kernel === model.kernels[1]!.id ? console : null), {}));
  t.same(printed.folds, [{ summary: 'its output', pre: '[    1.000002] faultline-out: mapped=-11\n' }], 'what it printed between its marks, folded');
});

t.test('kernel text cannot become markup: a report title and a reason with tags render as text', { skip: missing ?? false }, async (t) => {
  const k = kernelRecord('k', 0);
  const title = 'BUG: <img src=x onerror=alert(1)></summary></details><script>alert(2)</script>';
  const model: RunModel = modelOf({
    kernels: [k],
    cases: [{ suite: 's', case: 'a' }],
    results: [{ ...result('k', 's', 'a', 'crash', `kernel bug: ${title} | a pipe`), reports: [{ kind: 'bug', title, text: `${title}\nCall Trace:\n f+0x1/0x2\n`, fatal: true }] }],
  }).model;
  const seen = await rendered(stepSummary(model, null, {}));
  t.equal(seen.planted, 0, 'no element from kernel text');
  t.equal(seen.folds[0]?.summary, `kernel bug: ${title}`, 'the title as the kernel printed it');
  t.equal(seen.folds[0]?.pre, 'f+0x1/0x2\n');
  t.match(seen.items[0], `kernel bug: ${title} | a pipe`);
  t.equal(seen.rows[0]?.length, 2, 'a pipe in a reason does not split the table\'s cell');
});
