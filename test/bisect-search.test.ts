import t from 'tap';
import { nextStep, probesLeft, type Verdict } from '../runner/bisect/search.js';
import { orderByRelease } from '../runner/bisect/order.js';
import { oracleOf, parseBadClass, stepVerdict, type Outcomes } from '../runner/bisect/verdict.js';

// The pure parts of `faultline bisect`: which candidate is tested next (with skips), when the
// answer is known, the oracle, a step's verdict, and the order of kernels. No boots.

/** Bisects `count` candidates whose first bad one is `firstBad`, `skip` ones untestable;
 * returns the probes made and the end. */
function simulate(count: number, firstBad: number, skip: readonly number[] = []) {
  const verdicts = new Map<number, Verdict>([[0, 'good'], [count - 1, 'bad']]);
  const probes: number[] = [];
  for (;;) {
    const next = nextStep(count, verdicts);
    if (next.kind !== 'probe') return { probes, end: next };
    probes.push(next.candidate);
    verdicts.set(next.candidate, skip.includes(next.candidate) ? 'skip' : next.candidate >= firstBad ? 'bad' : 'good');
  }
}

t.test('without skips, every first bad candidate is found in at most ceil(log2(n)) probes', async (t) => {
  for (const count of [2, 3, 4, 5, 8, 15, 16, 17, 100]) {
    const most = Math.ceil(Math.log2(count - 1));
    t.equal(probesLeft(count, new Map([[0, 'good'], [count - 1, 'bad']])), most, `${count} candidates: about ${most} probes`);
    for (let firstBad = 1; firstBad < count; firstBad++) {
      const { probes, end } = simulate(count, firstBad);
      t.same(end, { kind: 'found', firstBad, lastGood: firstBad - 1 });
      t.ok(probes.length <= most, `${count} candidates, first bad ${firstBad}: ${probes.length} probes`);
    }
  }
});

t.test('the first probe is the middle, the lower one of two', async (t) => {
  t.same(nextStep(15, new Map([[0, 'good'], [14, 'bad']])), { kind: 'probe', candidate: 7 });
  t.same(nextStep(4, new Map([[0, 'good'], [3, 'bad']])), { kind: 'probe', candidate: 1 });
  t.same(nextStep(2, new Map([[0, 'good'], [1, 'bad']])), { kind: 'found', firstBad: 1, lastGood: 0 });
});

t.test('a skipped candidate is stepped around, to its nearest untested neighbour', async (t) => {
  const verdicts = new Map<number, Verdict>([[0, 'good'], [14, 'bad'], [7, 'skip']]);
  t.same(nextStep(15, verdicts), { kind: 'probe', candidate: 6 });
  verdicts.set(6, 'skip');
  t.same(nextStep(15, verdicts), { kind: 'probe', candidate: 8 });
});

t.test('a skip that does not hide the answer costs one probe; the answer is still one commit', async (t) => {
  // 14 commits, the 9th breaks the case, the 5th does not build
  const { probes, end } = simulate(15, 9, [5]);
  t.same(end, { kind: 'found', firstBad: 9, lastGood: 8 });
  t.ok(probes.length <= 5, `${probes.join(', ')}`);
});

t.test('a skip beside the first bad one: the answer is one of them, as git bisect says', async (t) => {
  t.same(simulate(15, 9, [8]).end, { kind: 'ambiguous', among: [8, 9], lastGood: 7 });
  t.same(simulate(15, 9, [7, 8]).end, { kind: 'ambiguous', among: [7, 8, 9], lastGood: 6 });
  // everything between the ends untestable: any of them, or the bad end
  t.same(simulate(4, 2, [1, 2]).end, { kind: 'ambiguous', among: [1, 2, 3], lastGood: 0 });
});

t.test('a bad verdict below a good one (a flaky history): the range ends at the lowest bad', async (t) => {
  t.same(nextStep(10, new Map<number, Verdict>([[0, 'good'], [9, 'bad'], [3, 'bad'], [6, 'good']])), { kind: 'probe', candidate: 1 });
});

t.test('probes left count what is untested between the last good and first bad', async (t) => {
  t.equal(probesLeft(15, new Map<number, Verdict>([[0, 'good'], [14, 'bad'], [7, 'bad']])), 3);
  t.equal(probesLeft(15, new Map<number, Verdict>([[0, 'good'], [14, 'bad'], [7, 'bad'], [6, 'good']])), 0);
  t.equal(probesLeft(15, new Map<number, Verdict>([[0, 'good'], [14, 'bad'], [7, 'skip']])), 4);
});

const o = (status: Outcomes[string]['status'], reason: string | null = null) => ({ status, reason });

t.test('the oracle: bad-class on the bad end, passing on the good end, nothing else', async (t) => {
  const good: Outcomes = { 'a/pass-pass': o('pass'), 'a/pass-fail': o('pass'), 'a/fail-fail': o('fail'), 'a/skip-fail': o('skip'), 'a/pass-timeout': o('pass'), 'a/pass-skip': o('pass') };
  const bad: Outcomes = { 'a/pass-pass': o('pass'), 'a/pass-fail': o('fail'), 'a/fail-fail': o('fail'), 'a/skip-fail': o('fail'), 'a/pass-timeout': o('timeout'), 'a/pass-skip': o('skip'), 'a/new-fail': o('fail') };
  t.same(oracleOf(good, bad, parseBadClass(undefined)), ['a/pass-fail', 'a/pass-timeout']);
  t.same(oracleOf(good, bad, parseBadClass('timeout')), ['a/pass-timeout']);
});

t.test('a step is bad on any oracle case in the bad class, good when all pass, else it says nothing', async (t) => {
  const oracle = ['a/x', 'a/y'];
  const bad = parseBadClass(undefined);
  t.same(stepVerdict({ 'a/x': o('pass'), 'a/y': o('pass') }, oracle, bad), { verdict: 'good', why: '' });
  t.same(stepVerdict({ 'a/x': o('pass'), 'a/y': o('crash') }, oracle, bad), { verdict: 'bad', why: 'a/y crash' });
  t.same(stepVerdict({ 'a/x': o('skip'), 'a/y': o('pass') }, oracle, bad), { verdict: 'skip', why: 'neither good nor bad: a/x skip' });
  t.same(stepVerdict({ 'a/x': o('fail'), 'a/y': o('pass') }, oracle, parseBadClass('timeout')), { verdict: 'skip', why: 'neither good nor bad: a/x fail' });
  t.same(stepVerdict({ 'a/x': o('pass') }, oracle, bad), { verdict: 'skip', why: 'neither good nor bad: a/y has no result' });
});

t.test('--status names statuses a case can turn to', async (t) => {
  t.same(parseBadClass('fail, crash,fail'), ['fail', 'crash']);
  t.throws(() => parseBadClass('pass'), { message: '--status pass: pass is not a status a case can turn to' });
  t.throws(() => parseBadClass('failed,boom'), { message: '--status failed,boom: failed, boom are not statuses a case can turn to' });
  t.throws(() => parseBadClass(' , '), { message: '--status  , : names no status' });
});

t.test('kernels are ordered by release, numbers as numbers, equal releases as given', async (t) => {
  const given = ['6.1.0-57-cloud-amd64', '6.12.118+deb12-cloud-amd64', '6.1.0-9-cloud-amd64', '6.1.0-47-cloud-amd64', '6.1.0-47-cloud-amd64'].map((release, i) => ({ release, i }));
  t.same(orderByRelease(given).map((k) => k.i), [2, 3, 4, 0, 1]);
});
