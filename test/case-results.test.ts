import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ResultStore } from '../runner/model/store.js';
import type { CaseResult, PlannedCase } from '../runner/model/types.js';
import { CaseResultStream } from '../runner/tap/case-results.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'results', name), 'latin1');

const planned: PlannedCase[] = [
  { suite: 'minor-faults', case: 'read-minor-continue-shmem' },
  { suite: 'minor-faults', case: 'continue-eexist-shmem' },
  { suite: 'minor-faults', case: 'read-minor-continue-hugetlb' },
  { suite: 'minor-faults', case: 'blocked-forever-shmem' },
  { suite: 'missing-faults', case: 'copy-anon' },
];

/** Feeds the text in small, uneven chunks, as a serial port delivers it, into the run's store,
 * which keeps the first result of each case and marks the ones that never came. */
function feed(text: string, chunk = 7): { live: CaseResult[]; final: CaseResult[] } {
  const live: CaseResult[] = [];
  const store = new ResultStore({ command: [], kernels: [{ spec: 'k1', role: null }], cases: planned }).on({ result: (r) => live.push(r) });
  const stream = new CaseResultStream('k1', planned, (r) => store.record(r));
  for (let i = 0, n = 0; i < text.length; n++) {
    const size = chunk + (n % 3);
    stream.write(text.slice(i, i + size));
    i += size;
  }
  stream.end();
  store.fillMissing('k1', planned, { status: 'crash', cause: 'guest-died', detail: 'the guest stopped' });
  return { live, final: store.model.results };
}

const brief = (rs: CaseResult[]) => rs.map((r) => `${r.suite}/${r.case} ${r.status}${r.reason ? `: ${r.reason}` : ''}`);

t.test('every status comes through with its reason and time', async (t) => {
  const { live, final } = feed(fixture('complete.tap'));
  t.same(brief(live), [
    'minor-faults/read-minor-continue-shmem pass',
    'minor-faults/continue-eexist-shmem fail: line 42: ioctl CONTINUE: expected errno EEXIST, got success (mapped=4096)',
    'minor-faults/read-minor-continue-hugetlb skip: needs 1 free 2 MiB huge pages (sysctl vm.nr_hugepages=1)',
    'minor-faults/blocked-forever-shmem timeout: case did not finish within 5000 ms (in step 7, line 88: join)',
    'missing-faults/copy-anon crash: case process killed by SIGSEGV during step 3 (line 12: access)',
  ]);
  t.same(final, live, 'nothing is missing when every planned case reported');
  t.equal(live[0]!.durationMs, 3);
  t.equal(live[3]!.durationMs, 5001);
  t.equal(live[0]!.kernel, 'k1');
});

t.test('kernel messages between result lines are ignored', async (t) => {
  const { live, final } = feed(fixture('interleaved.tap'), 3);
  t.same(brief(live.slice(0, 3)), [
    'minor-faults/read-minor-continue-shmem pass',
    'minor-faults/continue-eexist-shmem fail: line 42: ioctl CONTINUE: expected errno EEXIST, got success (mapped=4096)',
    'minor-faults/read-minor-continue-hugetlb skip: needs 1 free 2 MiB huge pages (sysctl vm.nr_hugepages=1)',
  ]);
  t.same(brief(final.slice(3)), [
    'minor-faults/blocked-forever-shmem crash: no result: the guest stopped',
    'missing-faults/copy-anon crash: no result: the guest stopped',
  ]);
});

t.test('output cut off in the middle of a case: that case and the rest are never a pass', async (t) => {
  const { live, final } = feed(fixture('cut-mid-case.tap'));
  t.same(brief(final), [
    'minor-faults/read-minor-continue-shmem pass',
    'minor-faults/continue-eexist-shmem fail: line 42: ioctl CONTINUE: expected errno EEXIST, got success (mapped=4096)',
    'minor-faults/read-minor-continue-hugetlb crash: no result: the guest stopped',
    'minor-faults/blocked-forever-shmem crash: no result: the guest stopped',
    'missing-faults/copy-anon crash: no result: the guest stopped',
  ]);
  t.equal(live.length, 5, 'the missing ones are reported as events too');
});

t.test('random bytes on the result channel: no throw, nothing passes', async (t) => {
  const { final } = feed(fixture('garbage.bin'), 13);
  t.equal(final.length, planned.length);
  t.ok(final.every((r) => r.status === 'crash'));
});

t.test('a result for a case seen twice is kept once: the first one', async (t) => {
  const text = fixture('complete.tap');
  const again = text.split('\n').slice(1).join('\n').replace('    ok 1 - read-minor-continue-shmem', '    not ok 1 - read-minor-continue-shmem');
  const { live, final } = feed(text.replace('1..2\n', '') + again);
  t.equal(live.length, planned.length, 'each case reported once');
  t.same(brief(final), brief(feed(text).final), 'the first result wins');
});

t.test('random bytes from many seeds, alone or cutting into real TAP: no throw, never a pass from noise', async (t) => {
  let seed = 0x2545f491;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const complete = fixture('complete.tap');
  for (let round = 0; round < 200; round++) {
    const noise = Array.from({ length: 64 + (next() % 2048) }, () => String.fromCharCode(next() % 256)).join('');
    const cut = next() % complete.length;
    const text = round % 2 === 0 ? noise : complete.slice(0, cut) + noise;
    const { final } = feed(text, 1 + (next() % 17));
    t.equal(final.length, planned.length, `round ${round}: every planned case has a result`);
    const passed = final.filter((r) => r.status === 'pass').map((r) => r.case);
    // Every whole real pass line before the noise passes; nothing but real lines (the last one
    // perhaps cut and completed by noise) does.
    const real = round % 2 === 0 ? '' : complete.slice(0, cut);
    const whole = [...real.matchAll(/^ {4}ok \d+ - (\S+)(?![^\n]*# SKIP)[^\n]*\n/gm)].map((m) => m[1]!);
    const allowed = [...real.matchAll(/^ {4}ok \d+ - (\S+)/gm)].map((m) => m[1]);
    t.ok(whole.every((c) => passed.includes(c)), `round ${round}: every whole pass line before the noise passes (${whole.join(', ')})`);
    t.ok(passed.every((c) => allowed.includes(c)), `round ${round}: passes only from real lines (${passed.join(', ')})`);
  }
});
