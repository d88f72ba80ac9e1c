import t from 'tap';
import type { CaseStatus } from '../runner/model/types.js';
import { formatPerPatch, PerPatchReporter, perPatchRows } from '../runner/reporters/per-patch.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';

const patches = ['0001-mm-comment.patch', '0002-mm-break-continue.patch', '0003-fs-comment.patch'];
const matrix = ['base', ...patches].map((title, i) => ({ spec: `/tree + ${i} patches`, role: null, ...(i > 0 ? { title } : {}) }));
const cases = ['a', 'b', 'c'].map((c) => ({ suite: 'minor-faults', case: c }));
const column = (kernel: string, statuses: Record<string, CaseStatus>) => Object.entries(statuses).map(([name, status]) => result(kernel, 'minor-faults', name, status));
const model = () =>
  modelOf({
    kernels: ['k+0', 'k+1', 'k+2', 'k+3'].map((id, i) => kernelRecord(id, i)),
    matrix,
    cases,
    results: [
      ...column('k+0', { a: 'pass', b: 'pass', c: 'skip' }),
      ...column('k+1', { a: 'pass', b: 'pass', c: 'skip' }),
      ...column('k+2', { a: 'fail', b: 'pass', c: 'skip' }),
      ...column('k+3', { a: 'fail', b: 'crash', c: 'skip' }),
    ],
  }).model;

t.test('the first patch at which each case changed status', async (t) => {
  const rows = perPatchRows(model());
  t.same(rows.map((r) => [r.case, r.firstChange]), [['minor-faults/a', 2], ['minor-faults/b', 3], ['minor-faults/c', null]]);
  t.same(rows[0]!.statuses, ['pass', 'pass', 'fail', 'fail']);
});

t.test('the table shows changed cases and names the patches', async (t) => {
  t.equal(
    formatPerPatch(model()),
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
  t.match(formatPerPatch(model(), true), /^minor-faults\/c {2}skip {4}skip {4}skip {4}skip {5}$/m, 'the full table keeps unchanged cases');
});

t.test('a case missing from a column shows as -', async (t) => {
  const m = modelOf({ kernels: [kernelRecord('k+0', 0), kernelRecord('k+1', 1)], matrix: matrix.slice(0, 2), cases: cases.slice(0, 1), results: column('k+0', { a: 'pass' }) }).model;
  const rows = perPatchRows(m);
  t.same(rows[0]!.statuses, ['pass', null]);
  t.equal(rows[0]!.firstChange, 1);
});

t.test('a kernel that never resolved leaves its column empty', async (t) => {
  const unresolved = kernelRecord('unresolved-1', 1, { accel: null });
  const store = modelOf({ kernels: [kernelRecord('k+0', 0), unresolved], matrix: matrix.slice(0, 2), cases: cases.slice(0, 1), results: [...column('k+0', { a: 'pass' }), result('unresolved-1', 'minor-faults', 'a', 'error', 'no result: the patch does not apply')] });
  let text = '';
  const reporter = new PerPatchReporter(() => {}, (full) => (text = full));
  reporter.handle({ type: 'run-end', model: store.model, exitCode: 3, why: [], ms: 1 });
  t.match(text, /^minor-faults\/a +pass +-\* +0001-mm-comment\.patch$/m, 'the unresolved kernel column stays empty');
});
