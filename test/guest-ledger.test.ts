import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { defaultConsolePolicy } from '../runner/console/verdict.js';
import { GuestLedger } from '../runner/guest/ledger.js';
import { ResultStore } from '../runner/model/store.js';
import { singleCaseUnit } from '../runner/sources/unit.js';
import type { ResultSink } from '../runner/model/sink.js';
import type { CaseResult, PlannedCase } from '../runner/model/types.js';

// The two serial streams of recorded faultline guests (runs/NAME.log: console, runs/NAME.tap:
// result channel), replayed in every order they could arrive in.
const runs = join(import.meta.dirname, 'fixtures', 'console', 'runs');
const consoleLines = (name: string) => readFileSync(join(runs, `${name}.log`), 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
const tapLines = (name: string) => readFileSync(join(runs, `${name}.tap`), 'utf8').split(/(?<=\n)/);
const plannedFrom = (name: string): PlannedCase[] =>
  [...readFileSync(join(runs, `${name}.log`), 'utf8').matchAll(/faultline: case ([^/\s]+)\/(\S+) begin/g)].map((m) => ({ suite: m[1]!, case: m[2]! }));
const zeropage: PlannedCase[] = ['before', 'dontwake', 'after'].map((c) => ({ suite: 'zeropage-dontwake', case: c }));

const asUnits = (planned: PlannedCase[]) => planned.map((p) => singleCaseUnit(p, { timeoutMs: 10_000, hugepages: 0, swap: false, policy: defaultConsolePolicy }));

type Order = 'console first' | 'results first' | 'interleaved';
const orders: Order[] = ['console first', 'results first', 'interleaved'];

/** The run's store for one kernel, as the session gives the ledger; `reported` is what it kept. */
function storeSink(planned: PlannedCase[]): { sink: ResultSink; reported: CaseResult[] } {
  const store = new ResultStore({ command: [], kernels: [{ spec: 'k', role: null }], cases: planned });
  return { sink: { report: (r) => store.record(r), has: (ref) => store.has('k', ref) }, reported: store.model.results };
}

function replay(name: string, planned: PlannedCase[], order: Order): { ledger: GuestLedger; reported: CaseResult[] } {
  const { sink, reported } = storeSink(planned);
  const ledger = new GuestLedger('k', asUnits(planned), sink);
  const console = consoleLines(name);
  const tap = tapLines(name);
  if (order === 'console first') {
    console.forEach((l) => ledger.consoleLine(l));
    tap.forEach((c) => ledger.resultChunk(c));
  } else if (order === 'results first') {
    tap.forEach((c) => ledger.resultChunk(c));
    console.forEach((l) => ledger.consoleLine(l));
  } else {
    for (let i = 0; i < Math.max(console.length, tap.length); i++) {
      if (i < tap.length) ledger.resultChunk(tap[i]!);
      if (i < console.length) ledger.consoleLine(console[i]!);
    }
  }
  ledger.end();
  return { ledger, reported };
}

const brief = (rs: CaseResult[]) => rs.map((r) => `${r.case} ${r.status}`);

t.test('a warning: the same verdicts in plan order whichever stream comes first', async (t) => {
  const planned = plannedFrom('warning');
  for (const order of orders) {
    const { reported, ledger } = replay('warning', planned, order);
    t.same(brief(reported), ['continue-dontwake-eexist-no-wake-shmem fail', 'continue-dontwake-eexist-no-wake-hugetlb pass'], order);
    t.match(reported[0]!.reason, /^kernel warning: WARNING: CPU: 0 PID: \d+ at fs\/userfaultfd\.c/, `${order}: the splat is in the verdict even when the result came first`);
    t.equal(ledger.unfinished(), null, order);
  }
});

t.test('an oops the guest survives: crash for that case only, in every order', async (t) => {
  for (const order of orders) {
    const { reported } = replay('oops', zeropage, order);
    t.same(brief(reported), ['before pass', 'dontwake crash', 'after pass'], order);
  }
});

t.test('a panic: what arrived is reported, the running case is left for the session, with the panic last', async (t) => {
  for (const order of orders) {
    const { reported, ledger } = replay('panic', zeropage, order);
    t.same(brief(reported), ['before pass'], order);
    t.same(ledger.unfinished(), { ref: { suite: 'zeropage-dontwake', case: 'dontwake' }, ended: false }, order);
    t.same(ledger.recentReports().map((f) => f.kind), ['oops', 'panic'], order);
    ledger.reportUnfinished(ledger.unfinished()!.ref, { status: 'crash', cause: 'guest-died', detail: 'the guest died during this case' }, 0);
    t.match(reported[1], { case: 'dontwake', status: 'crash', filled: 'guest-died', reason: /^kernel oops: BUG: kernel NULL pointer dereference.*; no result: the guest died during this case$/ });
  }
});

t.test('a result that never came after its end mark: that case is the unfinished one', async (t) => {
  const { sink, reported } = storeSink(zeropage);
  const ledger = new GuestLedger('k', asUnits(zeropage), sink);
  consoleLines('oops').forEach((l) => ledger.consoleLine(l));
  const tap = tapLines('oops');
  tap.slice(0, tap.findIndex((l) => /ok 3 - after/.test(l))).forEach((c) => ledger.resultChunk(c));
  ledger.end();
  t.same(brief(reported), ['before pass', 'dontwake crash']);
  t.same(ledger.unfinished(), { ref: { suite: 'zeropage-dontwake', case: 'after' }, ended: true });
  t.same(ledger.recentReports(), [], 'the oops belongs to an earlier case, not to this death');
});

t.test('a whole clean run: every result once, skips in their place, whichever stream leads', async (t) => {
  const planned = [...readFileSync(join(runs, 'debian-clean.tap'), 'utf8').matchAll(/^# Subtest: (\S+)$|^ {4}(?:not )?ok \d+ - (\S+)/gm)].reduce<{ suite: string; cases: PlannedCase[] }>(
    (acc, m) => (m[1] ? { ...acc, suite: m[1] } : { ...acc, cases: [...acc.cases, { suite: acc.suite, case: m[2]! }] }),
    { suite: '', cases: [] },
  ).cases;
  t.equal(planned.length, 68);
  for (const order of orders) {
    const { reported, ledger } = replay('debian-clean', planned, order);
    t.same(reported.map((r) => `${r.suite}/${r.case}`), planned.map((p) => `${p.suite}/${p.case}`), `${order}: plan order`);
    t.same(reported.filter((r) => r.status !== 'pass').map((r) => `${r.case} ${r.status}`), ['continue-mode-wp-shmem skip', 'continue-mode-wp-hugetlb skip'], order);
    t.equal(ledger.reported, 68);
    t.equal(ledger.unfinished(), null);
  }
});
