import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { attentionItems } from '../runner/model/attention.js';
import { compareKernels, comparePairs } from '../runner/model/compare.js';
import type { CaseResult } from '../runner/model/types.js';
import { caseViews } from '../runner/reporters/case-view.js';
import { htmlView } from '../runner/reporters/html.js';
import { junitXml } from '../runner/reporters/junit.js';
import { stepSummary } from '../runner/reporters/github.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';
import { recordRun } from './fixtures/recorded-run.js';

// The comparison and the reports on a run the size of a large matrix (20k cases on a baseline
// and a candidate): every result keeps its kernel, class and place, found by key rather than
// by search (bench/report-scale.ts times them).
const n = 20_000;
const base = kernelRecord('base', 0, { label: 'linux', role: 'baseline' });
const cand = kernelRecord('cand', 1, { label: 'linux+1', role: 'candidate' });
const cases = Array.from({ length: n }, (_, i) => ({ suite: `s${i % 2}`, case: `c${i}`, file: 'suites/big.yaml', line: 1 + (i % 500) }));
// Every 100th case regresses; every 1000th was left without a result for one reason.
const candidate = (i: number): CaseResult =>
  i % 1000 === 999
    ? { ...result(cand.id, cases[i]!.suite, cases[i]!.case, 'error', 'no result: the guest died'), filled: 'guest-died' }
    : result(cand.id, cases[i]!.suite, cases[i]!.case, i % 100 === 7 ? 'fail' : 'pass', i % 100 === 7 ? `expected EEXIST, got EAGAIN (${i})` : null);
const store = modelOf({ kernels: [base, cand], cases, results: [...cases.map((c) => result(base.id, c.suite, c.case, 'pass')), ...cases.map((_, i) => candidate(i))] });
store.model.matrix.pairs = [[0, 1]];
store.model.comparisons = comparePairs(store.model);
const model = store.model;

t.test('compare: every case classed once, in plan order', async (t) => {
  const [c] = model.comparisons;
  t.equal(c!.cases.length, n);
  t.same(c!.cases.slice(0, 8).map((x) => `${x.case} ${x.class}`).slice(6), ['c6 unchanged', 'c7 regression']);
  t.same([c!.counts.regression, c!.counts.unchanged], [n / 100 + n / 1000, n - n / 100 - n / 1000]);
  const disjoint = compareKernels({
    baseline: base,
    candidate: cand,
    results: [...cases.map((x) => result(base.id, x.suite, `a-${x.case}`, 'pass')), ...cases.map((x) => result(cand.id, x.suite, `b-${x.case}`, 'pass'))],
    order: cases.map((x) => ({ suite: x.suite, case: `a-${x.case}` })),
  });
  t.same([disjoint.counts.removed, disjoint.counts.new, disjoint.cases[n]!.case], [n, n, 'b-c0'], 'disjoint runs: the baseline\'s plan, then what only the candidate has');
});

t.test('reports: each result with its kernel, class and place; filled results as one item', async (t) => {
  const views = caseViews(model, null);
  t.equal(views.length, 2 * n);
  t.same([views[n + 7]!.label, views[n + 7]!.comparison, views[n + 7]!.line, views[7]!.comparison], ['linux+1', 'regression', 8, null]);
  const items = attentionItems(model);
  t.equal(items.length, n / 100 + 1, 'a regression item per failing case, and one for every case the guest\'s death left');
  const died = items.find((x) => x.filled)!;
  t.same([died.case, died.more.length, died.more.at(-1)], ['c999', n / 1000 - 1, `s1/c${n - 1}`]);
  const junit = junitXml(model, null);
  t.equal(junit.match(/<testcase /g)?.length, 2 * n);
  t.equal(junit.match(/<failure [^>]*type="regression"/g)?.length, n / 100 + n / 1000);
  const html = htmlView(model, null);
  t.equal(html.rows.length, n);
  t.same(html.rows[7]!.cells.map((c) => c.status), ['pass', 'fail']);
  t.match(stepSummary(model), /\| `s1\/c7` \| ok \| FAIL: expected EEXIST, got EAGAIN \(7\) \|/);
});

// What the process wrote, by the kernel's count (/proc/self/io wchar): every byte of every write(2).
const bytesWritten = (): number => Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

t.test('the bytes a run writes for run.json grow with its results, not with their square', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'faultline-large-run-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  // The run is synchronous from its start to its end: nothing else in this process writes between.
  const measure = (kernels: number) => {
    const dir = join(scratch, `k${kernels}`);
    mkdirSync(dir);
    const before = bytesWritten();
    recordRun(dir, { kernels, cases: 250 });
    const all = bytesWritten() - before;
    const appended = statSync(join(dir, 'events.jsonl')).size + statSync(join(dir, 'results.tap')).size;
    return { runJson: all - appended, final: statSync(join(dir, 'run.json')).size, all };
  };
  const small = measure(4);
  const large = measure(8);
  t.comment(`run.json: ${small.runJson} bytes written for 1000 results (${small.final} at the end), ${large.runJson} for 2000 (${large.final}); all files: ${small.all}, ${large.all}`);
  t.ok(large.runJson / small.runJson < 2.2, `twice the results, ${(large.runJson / small.runJson).toFixed(2)} times the bytes`);
  t.ok(large.all / small.all < 2.2, `every file of the directory: ${(large.all / small.all).toFixed(2)} times`);
  t.ok(large.runJson < 2.5 * large.final, 'run.json is written whole once; its checkpoints before hold no results');
});
