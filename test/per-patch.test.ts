import t from 'tap';
import type { CaseResult, CaseStatus } from '../runner/events.js';
import { formatPerPatch, PerPatchReporter, perPatchRows } from '../runner/reporters/per-patch.js';

const col = (kernel: string, statuses: Record<string, CaseStatus>): CaseResult[] =>
  Object.entries(statuses).map(([name, status]) => ({ kernel, suite: 'minor-faults', case: name, status, reason: null, durationMs: 1 }));

const columns = [{ name: 'base' }, { name: '0001-mm-comment.patch' }, { name: '0002-mm-break-continue.patch' }, { name: '0003-fs-comment.patch' }];
const results = [
  col('k+0', { a: 'pass', b: 'pass', c: 'skip' }),
  col('k+1', { a: 'pass', b: 'pass', c: 'skip' }),
  col('k+2', { a: 'fail', b: 'pass', c: 'skip' }),
  col('k+3', { a: 'fail', b: 'crash', c: 'skip' }),
];

t.test('the first patch at which each case changed status', async (t) => {
  const rows = perPatchRows(4, results);
  t.same(rows.map((r) => [r.case, r.firstChange]), [['minor-faults/a', 2], ['minor-faults/b', 3], ['minor-faults/c', null]]);
  t.same(rows[0]!.statuses, ['pass', 'pass', 'fail', 'fail']);
});

t.test('the table shows changed cases and names the patches', async (t) => {
  t.equal(
    formatPerPatch(columns, perPatchRows(4, results)),
    [
      'case            base    #1      #2      #3       first change',
      'minor-faults/a  pass    pass    fail*   fail     0002-mm-break-continue.patch',
      'minor-faults/b  pass    pass    pass    crash*   0003-fs-comment.patch',
      '1 case unchanged across the series',
      '',
      '#1 0001-mm-comment.patch',
      '#2 0002-mm-break-continue.patch',
      '#3 0003-fs-comment.patch',
      '',
    ].join('\n'),
  );
  t.match(formatPerPatch(columns, perPatchRows(4, results), true), /^minor-faults\/c {2}skip {4}skip {4}skip {4}skip {5}$/m, 'the full table keeps unchanged cases');
});

t.test('a case missing from a column shows as -', async (t) => {
  const rows = perPatchRows(2, [col('k+0', { a: 'pass' }), col('k+1', {})]);
  t.same(rows[0]!.statuses, ['pass', null]);
  t.equal(rows[0]!.firstChange, 1);
});

t.test('results of a kernel stopped before it booted get no column of their own', async (t) => {
  let text = '';
  const reporter = new PerPatchReporter(columns.slice(0, 2), () => {}, (full) => (text = full));
  const ready = (id: string) => reporter.handle({ type: 'kernel-ready', kernel: { id, release: null, accel: 'tcg', timeoutScale: 4 }, dir: '', qemuCommand: null });
  const result = (kernel: string, status: CaseStatus) => reporter.handle({ type: 'case-result', result: { kernel, suite: 's', case: 'a', status, reason: null, durationMs: 0 } });
  ready('k+0');
  result('k+0', 'pass');
  result('/tree + 1 patch', 'error');
  reporter.handle({ type: 'run-end', results: [], exitCode: 130, ms: 1 });
  t.match(text, /^s\/a +pass +-\* +0001-mm-comment\.patch$/m, 'the interrupted kernel column stays empty');
});
