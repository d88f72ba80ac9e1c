import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cleanOutput, parseStress, parseUnitTests, parseUserfaultfd, type Ended } from '../runner/sources/kselftest/parse.js';

// What the kernel's selftests printed, recorded from real runs (fixtures/kselftest/README.md says
// where each comes from), read by the parsers as they are and cut where a dying guest would cut them.
const recorded = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'kselftest', name), 'latin1');
const exit = (code: number): Ended => ({ kind: 'exit', code });
const lost: Ended = { kind: 'lost', reason: 'the guest died: the kernel panicked' };
/** The output up to and including the first line that matches. */
const upTo = (text: string, line: RegExp) => {
  const lines = text.split('\n');
  return lines.slice(0, lines.findIndex((l) => line.test(l)) + 1).join('\n');
};
const statuses = (subtests: { name: string; status: string }[]) => subtests.map((s) => `${s.name} ${s.status}`);

t.test('6.1 userfaultfd: backspaces erased, every subtest of a clean run passes', async (t) => {
  const shmem = recorded('vm-userfaultfd-shmem.out');
  t.ok(shmem.includes('\b'), 'the recording holds the backspace bytes the program prints');
  t.match(cleanOutput(shmem), /userfaults: 161 missing \(119\+42\) 815 wp \(348\+467\)/);
  t.notOk(cleanOutput(shmem).includes('\b'));

  const anon = parseUserfaultfd(recorded('vm-userfaultfd-anon.out'), exit(0), 'anon');
  t.same(anon, {
    status: 'pass',
    reason: null,
    subtests: ['bounces', 'uffd-wp pagemap (4 KiB)', 'uffd-wp pagemap (2 MiB)', 'zeropage', 'signal delivery', 'events'].map((name) => ({ name, status: 'pass', reason: null })),
  });
  // Cut off by a lost guest, the subtests come from the recording alone: each started one passed
  // or, the last, crashed.
  t.same(statuses(parseUserfaultfd(recorded('vm-userfaultfd-anon.out'), lost, 'anon').subtests), ['bounces pass', 'uffd-wp pagemap (4 KiB) pass', 'uffd-wp pagemap (2 MiB) pass', 'zeropage pass', 'signal delivery pass', 'events crash'], 'each subtest found by its own start line');
  const parsed = parseUserfaultfd(shmem, exit(0), 'shmem:dev');
  t.same(statuses(parsed.subtests), ['bounces pass', 'zeropage pass', 'signal delivery pass', 'events pass', 'minor faults pass'], 'shmem has minor faults and no pagemap tests');
});

t.test('6.1 userfaultfd: an ERROR that aborts the program fails the test it was in; the rest are not reached, never passed', async (t) => {
  const text = recorded('vm-userfaultfd-shmem-breaks-minor.out');
  const parsed = parseUserfaultfd(text, exit(1), 'shmem');
  t.same(statuses(parsed.subtests), ['bounces pass', 'zeropage pass', 'signal delivery pass', 'events pass', 'minor faults fail']);
  t.equal(parsed.status, 'fail');
  t.match(parsed.reason, /^minor faults: failed to exercise UFFDIO_CONTINUE error handling, ret=11, mapped=-11 \(errno=11, line 617\)$/);

  const early = `${upTo(text, /^bounces: 0,/)}\ntesting UFFDIO_ZEROPAGE: ERROR: UFFDIO_ZEROPAGE failed (errno=22, line=900)\n`;
  const stopped = parseUserfaultfd(early, exit(1), 'shmem');
  t.same(statuses(stopped.subtests), ['bounces pass', 'zeropage fail', 'signal delivery error', 'events error', 'minor faults error']);
  t.equal(stopped.subtests[2]!.reason, 'not reached: the test stopped in "zeropage"');
  t.equal(stopped.reason, 'zeropage: UFFDIO_ZEROPAGE failed (errno=22, line 900)');
});

t.test('6.1 userfaultfd: output cut off by a crash blames the test it was in', async (t) => {
  const cut = upTo(recorded('vm-userfaultfd-shmem.out'), /^testing signal delivery/);
  const parsed = parseUserfaultfd(cut, lost, 'shmem');
  t.same(statuses(parsed.subtests), ['bounces pass', 'zeropage pass', 'signal delivery pass', 'events crash', 'minor faults error']);
  t.equal(parsed.status, 'crash');
  t.equal(parsed.reason, 'events: the guest died: the kernel panicked');
  const killed = parseUserfaultfd(cut, { kind: 'signal', name: 'SIGSEGV' }, 'shmem');
  t.equal(killed.reason, 'events: killed by SIGSEGV');
  const skipped = parseUserfaultfd('ERROR: /dev/userfaultfd is not available\n', exit(4), 'anon:dev');
  t.same(skipped, { status: 'skip', reason: '/dev/userfaultfd is not available', subtests: [] }, 'KSFT_SKIP keeps the test\'s own reason');
});

const unitKeys = (text: string) => [...cleanOutput(text).matchAll(/^Testing (.+?)\.\.\./gm)].map((m) => m[1]!);

t.test('6.4+ uffd-unit-tests: one outcome per test x memory type, skips with their own reason', async (t) => {
  const text = recorded('mm-uffd-unit-tests.out');
  const keys = unitKeys(text);
  const parsed = parseUnitTests(text, exit(0), keys);
  const summary = /pass=(\d+), skip=(\d+), fail=(\d+)/.exec(text)!;
  const count = (status: string) => [...parsed.values()].filter((o) => o.status === status).length;
  t.same([count('pass'), count('skip'), count('fail')], [Number(summary[1]), Number(summary[2]), Number(summary[3])], 'the counts the program printed itself');
  t.same([...parsed.keys()], keys, 'one outcome per test the program ran, in its order');
  const minor = parseUnitTests(recorded('mm-uffd-unit-tests-minor.out'), exit(0), ['minor on shmem', 'minor on hugetlb']);
  t.same(minor.get('minor on hugetlb'), { status: 'skip', reason: 'memory allocation failed', stated: true });
  t.same(minor.get('minor on shmem'), { status: 'pass', reason: null, stated: true });
});

t.test('6.4+ uffd-unit-tests: a child\'s ERROR then "failed" is that case\'s failure, and the run goes on', async (t) => {
  const text = recorded('mm-uffd-unit-tests-6.12-on-6.1.out');
  const parsed = parseUnitTests(text, exit(1), unitKeys(text));
  t.same(parsed.get('wp-fork on hugetlb-private'), {
    status: 'fail',
    reason: 'Detected stall uffd-wp bit in child in present pte (pagemap uffd-wp bit error: 0x828000000000ae00 (errno=22, uffd-unit-tests.c:342))',
    stated: true,
  });
  t.same(parsed.get('wp-fork-with-event on anon'), { status: 'pass', reason: null, stated: true }, 'the test after it');
  t.same(parsed.get('poison on hugetlb'), { status: 'skip', reason: 'feature missing', stated: true });
  t.equal([...parsed.values()].filter((o) => o.status === 'fail').length, 1);
});

t.test('6.4+ uffd-unit-tests: an abort mid-way and a cut-off never pass what did not run', async (t) => {
  const text = recorded('mm-uffd-unit-tests.out');
  const keys = unitKeys(text);
  const aborted = upTo(text, /^Testing minor on shmem/).replace(/Testing minor on shmem\.\.\. done$/m, 'Testing minor on shmem... ERROR: UFFDIO_CONTINUE (errno=17, @uffd-unit-tests.c:600)');
  const parsed = parseUnitTests(aborted, exit(1), keys);
  t.same(parsed.get('minor on shmem'), { status: 'fail', reason: 'UFFDIO_CONTINUE (errno=17, uffd-unit-tests.c:600)' });
  const after = keys.slice(keys.indexOf('minor on shmem') + 1);
  t.ok(after.length > 0);
  for (const key of after) t.same(parsed.get(key), { status: 'error', reason: 'not reached: uffd-unit-tests stopped in "minor on shmem" (exit 1)' }, key);
  t.equal(parsed.get(keys[0]!)?.status, 'pass', 'what finished before it stands');

  const cut = upTo(text, /^Testing events on anon/).replace(/done$/, '');
  const crashed = parseUnitTests(cut, lost, keys);
  t.same(crashed.get('events on anon'), { status: 'crash', reason: 'the guest died: the kernel panicked' });
  for (const key of keys.slice(keys.indexOf('events on anon') + 1)) t.same(crashed.get(key), { status: 'error', reason: 'not reached: uffd-unit-tests stopped in "events on anon" (the guest died: the kernel panicked)' }, key);
});

t.test('6.4+ uffd-stress: bounces pass, a skip keeps its words, a death names the bounce', async (t) => {
  const text = recorded('mm-uffd-stress-anon.out');
  t.same(parseStress(text, exit(0)), { status: 'pass', reason: null });
  t.same(parseStress(recorded('mm-uffd-stress-hugetlb-no-pages.out'), exit(4)), { status: 'skip', reason: 'skip: Skipping userfaultfd... not enough hugepages' });
  t.same(parseStress(upTo(text, /^bounces: 1,/), { kind: 'signal', name: 'SIGBUS' }), { status: 'crash', reason: 'in bounce 1: killed by SIGBUS' });
  t.same(parseStress('nr_pages: 1024, nr_pages_per_cpu: 512\nERROR: UFFDIO_COPY error: -22 (errno=22, line=300)\n', exit(1)), { status: 'fail', reason: 'before its first bounce: UFFDIO_COPY error: -22 (errno=22, line 300)' });
});
