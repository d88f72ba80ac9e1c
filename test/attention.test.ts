import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { attentionItems, callTraceTop } from '../runner/model/attention.js';
import { compareKernels } from '../runner/model/compare.js';
import { filledResult } from '../runner/model/filled.js';
import type { CaseResult } from '../runner/model/types.js';
import { ReportScanner, type ScannedReport } from '../runner/console/kernel-reports.js';
import { attentionLines, attentionMarkdown } from '../runner/reporters/attention.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';

// What needs attention, from the model: its order (what failed the run by comparison, then
// failures, then what does not fail the run), its grouping, and what it says of each.
const cases = ['a', 'b', 'c', 'd', 'e', 'f'].map((name, i) => ({ suite: 's', case: name, file: join('suites', 's.yaml'), line: 10 * (i + 1) }));
const skip = (kernel: string, name: string, cause: CaseResult['skipCause'], reason: string): CaseResult => ({ ...result(kernel, 's', name, 'skip', reason), skipCause: cause });

t.test('a matrix run: the same failure on both kernels is one item, a known one comes last, skips are not there', async (t) => {
  const [k1, k2] = [kernelRecord('6.1', 0), kernelRecord('6.12', 1)];
  const known = { reason: 'fixed upstream in 6.13', entry: 'expect.yaml:3' };
  const model = modelOf({
    kernels: [k1, k2],
    cases,
    results: [
      { ...result('6.1', 's', 'a', 'fail', 'line 14: ioctl CONTINUE: expected errno EEXIST, got EAGAIN\nmore'), stepLine: 14 },
      { ...result('6.12', 's', 'a', 'fail', 'line 14: ioctl CONTINUE: expected errno EEXIST, got EAGAIN\nmore'), stepLine: 14 },
      { ...result('6.1', 's', 'b', 'fail', 'line 22: expected flags MINOR'), expected: known },
      result('6.12', 's', 'b', 'timeout', 'case did not finish within 100 ms'),
      skip('6.1', 'c', 'release', 'needs kernel 6.4'),
      skip('6.12', 'c', 'resource', 'needs 64 free 2 MiB huge pages (sysctl vm.nr_hugepages=64)'),
      result('6.1', 's', 'd', 'pass'),
    ],
  }).model;
  const items = attentionItems(model);
  t.same(items.map((x) => [x.tier, x.case, x.kernels, x.status, x.line]), [
    ['failure', 'a', ['6.1', '6.12'], 'fail', 14],
    ['failure', 'b', ['6.12'], 'timeout', 20],
    ['known', 'b', ['6.1'], 'fail', 20],
  ]);
  t.equal(items[0]!.reason, 'line 14: ioctl CONTINUE: expected errno EEXIST, got EAGAIN', 'the reason\'s first line');
  t.equal(items[2]!.known, 'fixed upstream in 6.13 (expect.yaml:3)');
  t.same(attentionLines(model), [
    'needs attention: 2 failures, 1 known',
    ' failures',
    '  FAIL  s/a on 6.1, 6.12  suites/s.yaml:14',
    '      line 14: ioctl CONTINUE: expected errno EEXIST, got EAGAIN',
    '  TIMEOUT  s/b on 6.12  suites/s.yaml:20',
    '      case did not finish within 100 ms',
    ' known failures: these do not fail the run',
    '  FAIL  s/b on 6.1  suites/s.yaml:20',
    '      line 22: expected flags MINOR',
    '      known: fixed upstream in 6.13 (expect.yaml:3)',
  ]);
});

t.test('a comparison: a pass that became a feature skip is a regression and comes first; a release skip is nothing; a shared failure is known', async (t) => {
  const base = kernelRecord('base', 0, { role: 'baseline' });
  const cand = kernelRecord('series', 1, { role: 'candidate' });
  const model = modelOf({
    kernels: [base, cand],
    cases,
    results: [
      ...['a', 'b', 'c', 'd', 'e'].map((name) => result('base', 's', name, name === 'd' ? 'fail' : 'pass', name === 'd' ? 'line 44: broken on both' : null)),
      result('base', 's', 'f', 'fail', 'line 60: broken here only'),
      result('series', 's', 'a', 'pass'),
      skip('series', 'b', 'release', 'needs kernel 6.4'),
      result('series', 's', 'c', 'pass'),
      result('series', 's', 'd', 'fail', 'line 44: broken on both'),
      skip('series', 'e', 'feature', 'kernel lacks UFFD_FEATURE_MINOR_SHMEM'),
      result('series', 's', 'f', 'pass'),
    ],
  }).model;
  model.comparisons = [compareKernels({ baseline: base, candidate: cand, results: model.results, order: cases })];
  const items = attentionItems(model);
  t.same(items.map((x) => [x.tier, x.case, x.kernels, x.status, x.class, x.from]), [
    ['regression', 'e', ['series'], 'skip', 'regression', 'pass'],
    ['known', 'd', ['base', 'series'], 'fail', null, null],
  ], 'the release skip and the failure the series fixed need no attention');
  t.equal(items[1]!.known, 'fails on the baseline');
  t.match(attentionLines(model).slice(0, 4), ['needs attention: 1 regression, 1 known', ' regressions: these fail the run', '  regression: ok -> skip  s/e on series  suites/s.yaml:50', '      kernel lacks UFFD_FEATURE_MINOR_SHMEM']);
});

t.test('a kernel report: its title and the top of its call trace; cases the runner left with one reason are one item', async (t) => {
  const k = kernelRecord('k', 0);
  const scanned: ScannedReport[] = [];
  const scanner = new ReportScanner((r) => scanned.push(r));
  for (const line of readFileSync(join(import.meta.dirname, 'fixtures', 'console', 'oops.log'), 'utf8').split('\n')) scanner.line(line);
  scanner.flush();
  const oops = scanned.find((r) => r.kind === 'oops');
  t.ok(oops, 'the recorded oops is read as a kernel report');
  t.same(callTraceTop(oops!.text, 3), ['RIP: 0010:record_oops+0x19/0x1d [record_helper]', 'record_helper_init+0xb7/0x1000 [record_helper]', 'do_one_initcall+0xe7/0x220', 'do_init_module+0xbf/0x2b0'], 'the reliable frames, the unwinder\'s guesses left out');
  t.same(callTraceTop('BUG: x\nRIP: 0010:f+0x1/0x2\nCall Trace:\n <TASK>\n ? g+0x3/0x4\n ? h+0x5/0x6\n </TASK>', 1), ['RIP: 0010:f+0x1/0x2', '? g+0x3/0x4'], 'the guesses when the kernel printed nothing else');
  const gone = (name: string) => filledResult('k', { suite: 's', case: name }, { status: 'error', cause: 'guest-died', detail: 'the guest died during s/a' });
  const model = modelOf({ kernels: [k], cases, results: [{ ...result('k', 's', 'a', 'crash', `kernel oops: ${oops!.title}`), reports: [oops!] }, gone('b'), gone('c'), gone('d')] }).model;
  const items = attentionItems(model);
  t.same(items.map((x) => [x.case, x.more]), [['a', []], ['b', ['s/c', 's/d']]]);
  t.same(items[0]!.report?.title, oops!.title);
  const markdown = attentionMarkdown(model, null).join('\n');
  t.match(markdown, `- **CRASH** \`s/a\` on k at \`suites/s.yaml:10\`: kernel oops: ${oops!.title}\n  <details><summary>kernel oops: ${oops!.title}</summary>\n\n  \`\`\`\n  RIP: 0010:record_oops+0x19/0x1d [record_helper]\n  record_helper_init+0xb7/0x1000 [record_helper]\n`);
  t.match(markdown, '- **ERROR** `s/b` on k at `suites/s.yaml:20`: no result: the guest died during s/a; and 2 more with the same reason: `s/c`, `s/d`');
});
