import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { answerLines, shellWord } from '../runner/bisect/answer.js';
import { openBisectDirectory, saveBisect, setAsideUnfinished, type BisectDocument, type StepRecord } from '../runner/bisect/state.js';

// The answer a bisect prints (and prints again when it is run once more), and its directory: new,
// continued with the same inputs, refused with others. A document written by hand; no boots.
const scratch = mkdtempSync(join(tmpdir(), 'faultline-bisect-answer-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

const hash = (n: number) => `${String(n).repeat(40)}`.slice(0, 40);
const candidates = [0, 1, 2, 3, 4].map((i) => ({ index: i, label: hash(i).slice(0, 12), kernel: `/src/tree + ${i} patches`, commit: { hash: hash(i), subject: `subject ${i}`, author: 'A U Thor <a@example.org>' } }));

function step(n: number, candidate: number, verdict: StepRecord['verdict'], extra: Partial<StepRecord> = {}): StepRecord {
  return { n, candidate, role: n === 1 ? 'good end' : n === 2 ? 'bad end' : 'probe', dir: `step-0${n}-${hash(candidate).slice(0, 12)}`, verdict, why: '', statuses: {}, reasons: {}, reruns: [], ms: 1, ...extra };
}

function doc(over: Partial<BisectDocument>): BisectDocument {
  return { format: 'faultline-bisect', version: 1, inputs: { form: 'tree', cases: [] }, form: 'tree', command: [], candidates, badClass: ['fail', 'timeout', 'crash', 'error'], oracle: [{ suite: 's', case: 'c' }], steps: [], state: 'done', answer: null, skipped: [], reproduce: null, exitCode: null, ...over };
}

t.test('found: the commit, its author, the flip, the skipped one, every step and the command', async (t) => {
  const d = doc({
    steps: [step(1, 0, 'good'), step(2, 4, 'bad', { reruns: [{ dir: 'step-02-444444444444-rerun-1', verdict: 'bad', why: 's/c fail', statuses: {}, reasons: {} }] }), step(3, 2, 'skip', { why: 'does not build: mm/x.c:1: error' }), step(4, 1, 'good'), step(5, 3, 'bad')],
    skipped: [{ candidate: 2, why: 'does not build: mm/x.c:1: error' }],
    answer: { kind: 'found', firstBad: 3, lastGood: 2, flipped: [{ suite: 's', case: 'c', good: { status: 'pass', reason: null }, bad: { status: 'fail', reason: 'line 86: expected EEXIST\ngot EAGAIN' } }] },
    reproduce: 'faultline run --tree /src/tree --patches 000000000000..333333333333 --case s/c',
  });
  t.same(answerLines(d, 'results/b'), [
    `first bad commit: ${hash(3)} subject 3`,
    'author: A U Thor <a@example.org>',
    'last good: 222222222222 subject 2',
    'flipped: s/c: pass on 222222222222 subject 2 -> fail on 333333333333 subject 3: line 86: expected EEXIST got EAGAIN',
    'skipped: 222222222222 subject 2: does not build: mm/x.c:1: error',
    'step 1 (good): results/b/step-01-000000000000',
    'step 2 (bad): results/b/step-02-444444444444',
    'step 2 rerun 1 (bad): results/b/step-02-444444444444-rerun-1',
    'step 3 (skip): results/b/step-03-222222222222',
    'step 4 (good): results/b/step-04-111111111111',
    'step 5 (bad): results/b/step-05-333333333333',
    'reproduce the last step: faultline run --tree /src/tree --patches 000000000000..333333333333 --case s/c',
  ]);
});

t.test('ambiguous: the first bad commit is one of the skipped ones or the first bad', async (t) => {
  const d = doc({ steps: [step(1, 0, 'good'), step(2, 4, 'bad'), step(3, 2, 'good'), step(4, 3, 'skip', { unstable: true, why: 'unstable: bad, then good' })], skipped: [{ candidate: 3, why: 'unstable: bad, then good' }], answer: { kind: 'ambiguous', among: [3, 4], lastGood: 2 } });
  t.same(answerLines(d, 'r').slice(0, 6), ['the first bad commit is one of:', `  ${hash(3)} subject 3`, `  ${hash(4)} subject 4`, 'last good: 222222222222 subject 2', 'skipped: 333333333333 subject 3: unstable: bad, then good', 'step 1 (good): r/step-01-000000000000']);
  t.ok(answerLines(d, 'r').includes('step 4 (unstable): r/step-04-333333333333'));
});

t.test('no difference between the ends, and the kernels form', async (t) => {
  const kernels = [{ index: 0, label: 'debian:linux-image-6.1.0-47-cloud-amd64', kernel: 'debian:linux-image-6.1.0-47-cloud-amd64', release: '6.1.0-47-cloud-amd64' }, { index: 1, label: '/k/vmlinuz-2', kernel: '/k/vmlinuz-2', release: '6.1.192' }];
  const none = doc({ form: 'kernels', candidates: kernels, oracle: [], steps: [step(1, 0, 'good'), step(2, 1, 'bad')], answer: { kind: 'no-difference' }, unstableAtBadEnd: ['s/c'] });
  t.same(answerLines(none, 'r').slice(0, 2), ['no difference: no selected case fails on the bad end (/k/vmlinuz-2) and passes on the good end (debian:linux-image-6.1.0-47-cloud-amd64)', 'unstable: s/c did not hold on a rerun of the bad end, so it is no oracle case']);
  const found = doc({ form: 'kernels', candidates: kernels, steps: [step(1, 0, 'good'), step(2, 1, 'bad')], answer: { kind: 'found', firstBad: 1, lastGood: 0, flipped: [] } });
  t.same(answerLines(found, 'r').slice(0, 3), ['first bad kernel: /k/vmlinuz-2 (6.1.192)', 'last good: debian:linux-image-6.1.0-47-cloud-amd64 (6.1.0-47-cloud-amd64)', 'skipped: none']);
  t.match(answerLines(doc({ form: 'kernels', candidates: kernels, badClass: ['crash'], answer: { kind: 'no-difference' } }), 'r')[0], /^no difference: no selected case is crash on the bad end/);
});

t.test('the reproducing command reads back as the same words in a shell', async (t) => {
  t.equal(shellWord('--case'), '--case');
  t.equal(shellWord('minor-faults/read-minor'), 'minor-faults/read-minor');
  t.equal(shellWord('oops=panic nokaslr'), "'oops=panic nokaslr'");
  t.equal(shellWord("it's"), "'it'\\''s'");
  t.equal(shellWord(''), "''");
});

t.test('a bisect directory: new, continued with the same inputs, refused with others', async (t) => {
  const dir = join(scratch, 'b1');
  const fresh = (inputs: Record<string, unknown>) => () => doc({ inputs, state: 'running', steps: [] });
  const first = openBisectDirectory(dir, fresh({ form: 'tree', good: 'a' }));
  t.equal(first.resumed, false);
  first.doc.steps.push(step(1, 0, 'good'));
  saveBisect(dir, first.doc);
  const again = openBisectDirectory(dir, fresh({ form: 'tree', good: 'a' }));
  t.equal(again.resumed, true);
  t.equal(again.doc.steps.length, 1, 'the finished step is kept');
  t.throws(() => openBisectDirectory(dir, fresh({ form: 'tree', good: 'b', cases: ['x'] })), { message: `--results ${dir} holds a bisect of other inputs (good, cases differ)`, exitCode: 2 });
  const other = join(scratch, 'not-a-bisect');
  mkdirSync(other);
  writeFileSync(join(other, 'run.json'), '{}');
  t.throws(() => openBisectDirectory(other, fresh({})), { message: `--results ${other} holds files (run.json) and no bisect.json: it is not a bisect's directory`, exitCode: 2 });
});

t.test('a step a stop cut short is set aside under a name of its own, never reused or lost', async (t) => {
  const dir = join(scratch, 'b2');
  const d = doc({ steps: [step(1, 0, 'good')] });
  for (const name of ['step-01-000000000000', 'step-02-444444444444', 'step-02-444444444444.stopped', 'suites']) mkdirSync(join(dir, name), { recursive: true });
  t.same(setAsideUnfinished(dir, d), ['step-02-444444444444.stopped-2']);
  t.same(readdirSync(dir).sort(), ['step-01-000000000000', 'step-02-444444444444.stopped', 'step-02-444444444444.stopped-2', 'suites']);
});
