import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { reportTaskPid } from '../runner/console/report-task.js';
import { ConsoleWatcher, type WatchedReport } from '../runner/console/watcher.js';
import { defaultConsolePolicy } from '../runner/console/verdict.js';
import { classify } from '../runner/console/kernel-reports.js';
import { GuestLedger } from '../runner/guest/ledger.js';
import { replayBooter } from '../runner/guest/replay.js';
import { runGuestSession } from '../runner/guest/session.js';
import { guestHugepages, guestWorkers } from '../runner/guest/workers.js';
import { interruptedRun } from '../runner/model/filled.js';
import type { ResultSink } from '../runner/model/sink.js';
import { ResultStore } from '../runner/model/store.js';
import type { CaseResult, KernelReport, PlannedCase } from '../runner/model/types.js';
import { taskMarkText, caseMarkText, programLineText } from '../runner/protocol/guest.js';
import { defaultGuestConfig } from '../runner/qemu/guest-config.js';
import { filesIn } from '../runner/results/kernel-files.js';
import { compileUnits } from '../runner/sources/plan.js';
import { singleCaseUnit, yamlUnits, type RunUnit } from '../runner/sources/unit.js';
import { parseSuite } from '../runner/suite/load.js';
import { kernelRecord } from './fixtures/model.js';

// Cases side by side in one guest: which case a kernel report is tied to, what is held back as
// suspect, and how a guest's death or hang reads while several cases ran. The consoles are
// written here from the kernel's own reports (test/fixtures/console/*.log, recorded from real
// guests) with the helper's marks around them, and played through the real watcher, ledger and
// session (the session through the replay booter, as `report --reparse` does).
const fixtures = join(import.meta.dirname, 'fixtures', 'console');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-parallel-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

/** A recorded report's lines: everything after the recording's own begin mark (timestamps kept). */
function reportLines(kind: string): string[] {
  const lines = readFileSync(join(fixtures, `${kind}.log`), 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
  const begin = lines.findIndex((l) => l.includes('faultline: case record/'));
  return lines.slice(begin + 1).filter((l) => l !== '' && !l.includes('faultline: case record/') && !l.startsWith('record:'));
}

const ref = (c: string): PlannedCase => ({ suite: 's', case: c });
const begin = (c: string) => caseMarkText(ref(c), 'begin');
const end = (c: string) => caseMarkText(ref(c), 'end');
const task = (c: string, pid: number) => taskMarkText(ref(c), pid);
const ready = 'faultline: agent ready';

function watch(lines: readonly string[]): { watcher: ConsoleWatcher; reports: WatchedReport[] } {
  const reports: WatchedReport[] = [];
  const watcher = new ConsoleWatcher({ report: (f) => reports.push(f) });
  for (const line of lines) watcher.line(line);
  watcher.end();
  return { watcher, reports };
}
const tied = (f: WatchedReport) => (f.during ? f.during.case : null);
const suspects = (f: WatchedReport) => f.suspects.map((s) => s.case);

t.test('the task a report names, from recorded reports of every kind that names one', async (t) => {
  const pidOf = (kind: string) => {
    const text = reportLines(kind).map((l) => l.replace(/^\[[^\]]*\] ?/, '')).join('\n');
    const first = text.split('\n').find((l) => classify(l))!;
    return reportTaskPid(classify(first)!.kind, text);
  };
  t.equal(pidOf('warning'), 37, 'WARNING: CPU: 0 PID: 37 at ...');
  t.equal(pidOf('oops'), 36, 'an oops: its CPU: N PID: N Comm: line');
  t.equal(pidOf('bug'), 37, 'kernel BUG at');
  t.equal(pidOf('hung-task'), 39, 'INFO: task init:39 blocked for more than');
  t.equal(pidOf('soft-lockup'), 38, 'BUG: soft lockup - CPU#0 stuck for 3s! [init:38]');
  t.equal(pidOf('panic'), 36, 'a panic that dumps its own stack');
  t.equal(pidOf('rcu-stall'), null, 'an RCU stall names whoever ran on the CPU that noticed, not a culprit');
  t.equal(reportTaskPid('warning', 'WARNING: CPU: 0 PID: 7 at kernel/workqueue.c:1 x\nCPU: 0 PID: 7 Comm: kworker/0:1'), 7);
  t.equal(reportTaskPid('soft-lockup', 'watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [uffd stress:412]\nCPU: 1 PID: 3 Comm: x'), 412, 'the stuck task, not the dumping one; its name may hold a space');
});

t.test('one case running: its report, whatever task it names (serial runs read as before)', async (t) => {
  const { reports } = watch([ready, begin('a'), task('a', 50), ...reportLines('warning'), end('a')]);
  t.same(reports.map(tied), ['a'], 'PID 37 is no task of a, and a was the only case running');
  t.same(reports.map(suspects), [[]]);
});

t.test('several running: a report is the case whose task it names', async (t) => {
  for (const kind of ['warning', 'oops', 'hung-task', 'soft-lockup', 'bug']) {
    const pid = reportTaskPid(classify(reportLines(kind).map((l) => l.replace(/^\[[^\]]*\] ?/, '')).find((l) => classify(l))!)!.kind, reportLines(kind).map((l) => l.replace(/^\[[^\]]*\] ?/, '')).join('\n'))!;
    const { reports } = watch([ready, begin('a'), task('a', 60), begin('b'), task('b', pid), begin('c'), task('c', 61), task('b', 62), ...reportLines(kind), end('a'), end('c'), end('b')]);
    t.same(reports.map(tied), ['b'], `${kind}: the case that named PID ${pid}`);
    t.same(reports.map(suspects), [[]], `${kind}: nobody else is suspect`);
  }
});

t.test('several running and no running case named: every one is a suspect, the report is the run\'s', async (t) => {
  // An RCU stall names no culprit; a WARNING of a kworker (PID 37, named by no case) neither.
  for (const kind of ['rcu-stall', 'warning']) {
    const { reports } = watch([ready, begin('a'), task('a', 60), begin('b'), task('b', 61), ...reportLines(kind), end('a'), end('b'), begin('c'), end('c')]);
    t.same(reports.map(tied), [null], kind);
    t.same(reports.map(suspects), [['a', 'b']], `${kind}: the two running, not c, which began after`);
  }
  // A task of a case that has ended, named while others run: none of theirs.
  const { reports } = watch([ready, begin('a'), task('a', 37), begin('b'), task('b', 61), begin('c'), task('c', 62), end('a'), ...reportLines('warning'), end('b'), end('c')]);
  t.same(reports.map(suspects), [['b', 'c']]);
});

t.test('programs side by side: each line is the case it names', async (t) => {
  const out = (c: string, line: string) => programLineText(ref(c), line);
  const { watcher } = watch([ready, begin('a'), begin('b'), out('a', 'Testing minor on shmem... '), out('b', 'ok 1 anon'), out('a', 'done'), end('b'), out('b', 'late'), end('a')]);
  t.same(watcher.programLines.get('s/a'), ['Testing minor on shmem...', 'done'], 'lines are kept trimmed, as the console shows them');
  t.same(watcher.programLines.get('s/b'), ['ok 1 anon'], 'a line naming a case that ended is nobody\'s');
  const old = watch([ready, begin('a'), 'faultline-out: untagged', end('a'), begin('b'), begin('c'), 'faultline-out: whose?', end('b'), end('c')]).watcher;
  t.same(old.programLines.get('s/a'), ['untagged'], 'an untagged line (an older helper\'s console) is the one running case\'s');
  t.equal(old.programLines.get('s/b'), undefined, 'and with several running, nobody\'s');
});

t.test('a task mark of another case inside a report neither ends it nor joins it', async (t) => {
  const lines = reportLines('warning');
  const at = lines.findIndex((l) => l.includes('Call Trace:'));
  const { reports } = watch([ready, begin('a'), task('a', 37), begin('b'), ...lines.slice(0, at), task('b', 70), ...lines.slice(at), end('a'), end('b')]);
  t.equal(reports.length, 1);
  t.same(reports.map(tied), ['a']);
  t.match(reports[0]!.text, /Call Trace:/, 'the call trace after the mark is still the report\'s');
  t.notMatch(reports[0]!.text, /faultline: case/);
});

t.test('the panic an oops leads to is the oops\'s case\'s', async (t) => {
  const panic = readFileSync(join(fixtures, 'runs', 'panic.log'), 'utf8').split('\n');
  const from = panic.findIndex((l) => l.includes('dontwake begin'));
  const body = panic.slice(from + 1).filter((l) => l !== '');
  const { reports } = watch([ready, begin('a'), task('a', 39), begin('b'), task('b', 40), ...body]);
  t.same(reports.map((f) => `${f.kind} ${tied(f)}`), ['oops a', 'panic a']);
});

// The ledger and the store, as the session gives them.
function storeSink(planned: PlannedCase[]): { sink: ResultSink; results: CaseResult[] } {
  const store = new ResultStore({ command: [], kernels: [{ spec: 'k', role: null }], cases: planned });
  return { sink: { report: (r) => store.record(r), has: (p) => store.has('k', p) }, results: store.model.results };
}
const units = (names: string[]): RunUnit[] => names.map((n) => singleCaseUnit(ref(n), { timeoutMs: 3000, hugepages: 0, swap: false, policy: defaultConsolePolicy }));
/** The result channel of a guest that died: the results written before it, nothing after. */
const cutTap = (names: string[], total: number) => ['TAP version 14', '# Subtest: s', `    1..${total}`, ...names.map((n, i) => `    ok ${i + 1} - ${n} # time=5ms`), ''].join('\n');
const tap = (names: string[], bad: string[] = []) =>
  ['TAP version 14', '# Subtest: s', `    1..${names.length}`, ...names.map((n, i) => `    ${bad.includes(n) ? 'not ok' : 'ok'} ${i + 1} - ${n} # time=5ms`), 'ok 1 - s', '1..1', ''].join('\n');

t.test('the ledger holds back the suspects\' results and reports the rest', async (t) => {
  const names = ['a', 'b', 'c'];
  const { sink, results } = storeSink(names.map(ref));
  const caseless: WatchedReport[] = [];
  const ledger = new GuestLedger('k', units(names), sink, { caseless: (f) => caseless.push(f) });
  for (const line of [ready, begin('a'), task('a', 60), begin('b'), task('b', 61), ...reportLines('rcu-stall'), end('a'), end('b'), begin('c'), task('c', 62), end('c')]) ledger.consoleLine(line);
  ledger.resultChunk(tap(['a', 'b', 'c']));
  ledger.end();
  t.same(results.map((r) => `${r.case} ${r.status}`), ['c pass'], 'a and b get no verdict here');
  t.same(ledger.suspects().map((s) => s.ref.case), ['a', 'b']);
  t.same(caseless.map((f) => f.kind), ['rcu-stall'], 'the report is the run\'s');
  t.same(ledger.unfinishedAll(), [], 'held back is not unfinished');
});

// A whole session from written guests: guest N's console, result channel and end, saved as a
// run saves them, played back through runGuestSession.
interface WrittenGuest {
  console: string[];
  results: string;
  end?: Partial<{ exitCode: number | null; aborted: boolean; agentExit: number | null; timedOut: boolean; stoppedBy: { why: string; reason: string } | null }>;
}

async function session(names: string[], guests: WrittenGuest[]): Promise<{ results: CaseResult[]; restarts: string[]; reports: KernelReport[]; plans: string[] }> {
  const dir = mkdtempSync(join(scratch, 'session-'));
  guests.forEach((g, i) => {
    const tag = i === 0 ? '' : `-${i + 1}`;
    writeFileSync(join(dir, `console${tag}.log`), `${g.console.join('\n')}\n`);
    writeFileSync(join(dir, `results${tag}.raw`), g.results);
    const e = g.end ?? {};
    writeFileSync(join(dir, `guest-end${tag}.json`), JSON.stringify({ exitCode: e.exitCode ?? 0, signal: null, timedOut: e.timedOut ?? false, aborted: e.aborted ?? false, ms: 1000, agentExit: e.agentExit === undefined ? 0 : e.agentExit, consoleBytes: 1, recorded: { stoppedBy: e.stoppedBy ?? null, unfinishedMs: 0 } }));
  });
  const base = join(dir, 'base.img');
  writeFileSync(base, '');
  const planned = names.map(ref);
  const { sink, results } = storeSink(planned);
  const restarts: string[] = [];
  const reports: KernelReport[] = [];
  const record = { ...kernelRecord('k', 0), accel: 'tcg' as const, timeoutScale: 1 };
  const out = mkdtempSync(join(scratch, 'files-'));
  const files = filesIn(out, '');
  await runGuestSession({
    kernel: record,
    guest: defaultGuestConfig,
    kernelImage: 'bzImage',
    baseImage: base,
    units: units(names),
    suites: [],
    cases: planned,
    programs: null,
    files,
    sink,
    signal: undefined,
    stopped: () => interruptedRun,
    onFirstStart: () => {},
    onRestart: (r) => restarts.push(`${r.guest} ${r.cases}: ${r.reason}`),
    onReport: (f) => reports.push(f),
    boot: replayBooter(dir),
  });
  const plans = guests.map((_, i) => readFileSync(join(out, `plan${i === 0 ? '' : `-${i + 1}`}.txt`), 'utf8'));
  return { results, restarts, reports, plans };
}
const brief = (rs: CaseResult[]) => rs.map((r) => `${r.case} ${r.status}${r.ranAlone ? ' (alone)' : ''}`);

t.test('suspects run again alone, one at a time, before any verdict; their results say so', async (t) => {
  const { results, restarts, reports, plans } = await session(['a', 'b', 'c'], [
    { console: [ready, begin('a'), task('a', 60), begin('b'), task('b', 61), ...reportLines('rcu-stall'), end('a'), end('b'), begin('c'), end('c')], results: tap(['a', 'b', 'c']) },
    // Alone, the stall comes back with b: b's; a is clean.
    { console: [ready, begin('a'), task('a', 70), end('a'), begin('b'), task('b', 71), ...reportLines('rcu-stall'), end('b')], results: tap(['a', 'b']) },
  ]);
  t.same(brief(results), ['c pass', 'a pass (alone)', 'b fail (alone)']);
  t.match(results[2]!.reason, /^kernel rcu-stall: /);
  t.match(results[1]!.ranAlone, /^a kernel report named no task of the cases running beside it \("rcu: INFO: rcu_sched self-detected stall on CPU"\)$/);
  t.same(reports.map((f) => f.kind), ['rcu-stall'], 'the side-by-side stall is a run-level report');
  t.match(restarts, [/^2 2: 2 cases to run again alone: a kernel report named no task/]);
  t.match(plans[0], /^plan 1\nworkers 3\n/, 'the first guest ran them side by side');
  t.notMatch(plans[1], /workers/, 'the second one at a time');
});

t.test('a crash tied to one case: that case crashes, the others run again beside each other', async (t) => {
  const panic = readFileSync(join(fixtures, 'runs', 'panic.log'), 'utf8').split('\n');
  const body = panic.slice(panic.findIndex((l) => l.includes('dontwake begin')) + 1).filter((l) => l !== '');
  const { results, restarts } = await session(['a', 'b', 'c', 'd'], [
    { console: [ready, begin('a'), task('a', 50), end('a'), begin('b'), task('b', 39), begin('c'), task('c', 41), ...body], results: cutTap(['a'], 4), end: { exitCode: 0, agentExit: null } },
    { console: [ready, begin('c'), task('c', 50), begin('d'), task('d', 51), end('c'), end('d')], results: tap(['c', 'd']) },
  ]);
  t.same(brief(results), ['a pass', 'b crash', 'c pass', 'd pass'], 'c gets no verdict from the panic, and ran again, not alone');
  t.match(results[1]!.reason, /^kernel oops: .*; no result: the guest died during this case, its task named by the kernel's report: the kernel panicked/);
  t.match(restarts, [/^2 2: the guest died during s\/b \(the kernel panicked: "Kernel panic - not syncing: Fatal exception"\); the case beside it runs again$/]);
});

t.test('a death that names no running task: every running case is a suspect and runs alone', async (t) => {
  const { results, restarts } = await session(['a', 'b', 'c'], [
    { console: [ready, begin('a'), task('a', 60), begin('b'), task('b', 61), 'Kernel panic - not syncing: Attempted to kill the idle task!'], results: '', end: { exitCode: 0, agentExit: null } },
    { console: [ready, begin('a'), end('a'), begin('b'), end('b')], results: tap(['a', 'b']) },
    { console: [ready, begin('c'), end('c')], results: tap(['c']) },
  ]);
  t.same(brief(results), ['a pass (alone)', 'b pass (alone)', 'c pass']);
  t.match(results[0]!.ranAlone, /^the guest died while it ran beside others, and the kernel named no task of theirs \(the kernel panicked/);
  t.match(restarts, [/^2 2: the guest died while s\/a, s\/b ran side by side/, /^3 1: the cases run again alone are done; the rest run side by side$/]);
});

t.test('a hang while several ran: all suspects; alone, the one that hangs gets its timeout', async (t) => {
  const stoppedBy = { why: 'case', reason: 'the guest stopped responding while s/a ran beside other cases (no end mark within 8s: its 3s limit + 5s grace); QEMU was stopped' };
  const { results, restarts } = await session(['a', 'b', 'c'], [
    { console: [ready, begin('a'), task('a', 60), begin('b'), task('b', 61), begin('c'), task('c', 62), end('c')], results: cutTap(['c'], 3), end: { exitCode: null, aborted: true, agentExit: null, stoppedBy } },
    { console: [ready, begin('a'), task('a', 70)], results: '', end: { exitCode: null, aborted: true, agentExit: null, stoppedBy: { why: 'case', reason: 'the guest stopped responding during this case (no end mark within 8s: its 3s limit + 5s grace); QEMU was stopped' } } },
    { console: [ready, begin('b'), end('b')], results: tap(['b']) },
  ]);
  t.same(brief(results), ['c pass', 'a timeout (alone)', 'b pass (alone)']);
  t.match(results[1]!.reason, /^no result: the guest stopped responding during this case/);
  t.match(results[1]!.ranAlone, /^the guest stopped responding while s\/a ran beside other cases \(no end mark within 8s/);
  t.equal(restarts.length, 2);
});

t.test('a guest that never gets anywhere ends the session: no endless restarts', async (t) => {
  const { results } = await session(['a', 'b'], [
    { console: [ready, begin('a'), begin('b'), 'Kernel panic - not syncing: Attempted to kill the idle task!'], results: '', end: { exitCode: 0, agentExit: null } },
    { console: [ready, 'Kernel panic - not syncing: Attempted to kill the idle task!'], results: '', end: { exitCode: 0, agentExit: null } },
  ]);
  t.same(brief(results), ['a crash', 'b crash'], 'the alone guest died before any case: they get the crash');
});

t.test('worker count and huge pages', async (t) => {
  const u = (n: string, o: { hugepages?: number; alone?: boolean } = {}) => singleCaseUnit(ref(n), { timeoutMs: 1000, hugepages: o.hugepages ?? 0, swap: false, alone: o.alone ?? false, policy: defaultConsolePolicy });
  const set = [u('a', { hugepages: 4 }), u('b', { hugepages: 2 }), u('c', { hugepages: 8 }), u('d', { hugepages: 16, alone: true }), u('e')];
  t.equal(guestWorkers(set, null), 4, 'the cap');
  t.equal(guestWorkers(set.slice(0, 2), null), 2, 'no more than can overlap');
  t.equal(guestWorkers([u('x', { alone: true }), u('y')], null), 1, 'one that may overlap runs with nothing');
  t.equal(guestWorkers(set, 1), 1, '--workers 1');
  t.equal(guestHugepages(set, 4), 16, 'the alone case needs the most');
  t.equal(guestHugepages(set.filter((x) => !x.alone), 2), 12, 'the two largest together');
  t.equal(guestHugepages(set, 1), 16, 'one at a time: the largest');
  t.equal(guestHugepages([u('h', { hugepages: 1000 }), u('i', { hugepages: 1000 })], 2), 1024, 'bounded');
});

t.test('compiled plans: workers only when cases run side by side, alone on cases that touch global state', async (t) => {
  const yaml = `suite: s
cases:
  - name: plain
    steps: [{ sleep: 1 }]
  - name: mine
    alone: true
    steps: [{ sleep: 1 }]
  - name: swapping
    needs: { swap: true }
    steps: [{ sleep: 1 }]
  - name: paging-out
    steps: [{ map: { backend: anon } }, { madvise: { advice: PAGEOUT } }]
  - name: huge
    steps: [{ map: { backend: shmem, pages: 512, thp: true } }]
  - name: other
    steps: [{ sleep: 1 }]
`;
  const suite = parseSuite('s.yaml', yaml);
  const us = yamlUnits([suite]);
  t.same(us.map((x) => `${x.ref.case} ${x.alone}`), ['plain false', 'mine true', 'swapping true', 'paging-out true', 'huge true', 'other false']);
  const parallel = compileUnits([suite], us, 1, guestWorkers(us, null));
  t.match(parallel, /^plan 1\nworkers 2\nsuite s\ncase mine\ntimeout_ms 10000\nalone\nsleep/);
  t.equal(parallel.match(/^alone$/gm)?.length, 4);
  t.same([...parallel.matchAll(/^case (\S+)$/gm)].map((m) => m[1]), ['mine', 'swapping', 'paging-out', 'huge', 'plain', 'other'], 'the alone ones first: none waits for others to drain');
  const serial = compileUnits([suite], us, 1, 1);
  t.notMatch(serial, /workers|alone/, 'a serial plan is what it always was');
  t.throws(() => parseSuite('bad.yaml', 'cases:\n  - name: x\n    alone: 1\n    steps: [{ sleep: 1 }]\n'), /alone/);
});

t.test('--workers and --cpus are whole numbers, refused before anything is built', async (t) => {
  const { execa } = await import('execa');
  const cli = join(import.meta.dirname, '..', 'dist', 'runner', 'cli.js');
  for (const [flag, value, range] of [['--workers', '0', '1 to 64'], ['--workers', 'two', '1 to 64'], ['--cpus', '17', '1 to 16']] as const) {
    const out = await execa('node', [cli, 'run', flag, value, '--results', join(scratch, 'never')], { reject: false });
    t.equal(out.exitCode, 2, `${flag} ${value}`);
    t.match(out.stderr, `${flag} ${value} is not a whole number from ${range}`);
  }
});
