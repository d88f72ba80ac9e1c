import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { filledResult } from '../runner/model/filled.js';
import { verdictOf } from '../runner/model/summary.js';
import { Parser } from 'tap-parser';
import { announceStore, type RunEvent } from '../runner/events.js';
import { compareKernels } from '../runner/model/compare.js';
import { ResultStore } from '../runner/model/store.js';
import type { CaseResult, KernelRecord, PlannedCase, RunModel } from '../runner/model/types.js';
import { readRun } from '../runner/model/document.js';
import { TapReporter } from '../runner/reporters/tap.js';
import { TerminalReporter } from '../runner/reporters/terminal.js';
import { claimResultsDirectory } from '../runner/results/location.js';
import { ResultsDirectory } from '../runner/results/results-dir.js';
import { kernelRecord, result } from './fixtures/model.js';
import { assertRunValid } from './fixtures/run-schema.js';

const k1 = kernelRecord('deb-aaa', 0, { label: '6.1.0-47-cloud-amd64', release: '6.1.0-47-cloud-amd64' });
const cases: PlannedCase[] = [
  { suite: 'minor-faults', case: 'a' },
  { suite: 'minor-faults', case: 'b' },
  { suite: 'minor-faults', case: 'c' },
  { suite: 'missing-faults', case: 'd' },
];
const oneKernel = [
  result(k1.id, 'minor-faults', 'a', 'pass'),
  result(k1.id, 'minor-faults', 'b', 'fail', 'line 9: event: expected flags MINOR, got MINOR|WRITE\nsecond line # with hash'),
  result(k1.id, 'minor-faults', 'c', 'skip', 'kernel lacks UFFD_FEATURE_MOVE'),
  result(k1.id, 'missing-faults', 'd', 'timeout', 'case did not finish within 100 ms'),
];

type Step = { kernel: KernelRecord } | { result: CaseResult } | { end: string } | { event: RunEvent } | { act(store: ResultStore): void };

// Drives reporters the way the engine does: a store owns the model, and its changes become events
// through the engine's own wiring (announceStore).
function drive(opts: { kernels: KernelRecord[]; steps: Step[]; jobs?: number; exitCode?: number; compare?: boolean }, ...reporters: { handle(e: RunEvent): void }[]): ResultStore {
  const store = new ResultStore({ command: ['faultline', 'run'], kernels: opts.kernels.map((k) => ({ spec: k.spec, role: k.role })), cases, startedAt: new Date('2026-11-28T10:00:00Z') });
  const emit = (e: RunEvent) => reporters.forEach((r) => r.handle(e));
  announceStore(store, { emit });
  emit({ type: 'run-start', model: store.model, resultsDir: 'results/x', jobs: opts.jobs ?? 1, share: store.model.matrix.kernels.map(() => store.model.matrix.cases.length) });
  for (const step of opts.steps) {
    if ('kernel' in step) {
      store.addKernel(step.kernel);
      emit({ type: 'kernel-ready', kernel: step.kernel });
    } else if ('result' in step) store.record(step.result);
    else if ('end' in step) emit({ type: 'kernel-end', kernel: step.end });
    else if ('act' in step) step.act(store);
    else emit(step.event);
  }
  if (opts.compare) store.model.comparisons = [compareKernels({ baseline: opts.kernels[0]!, candidate: opts.kernels[1]!, results: store.model.results, order: cases })];
  // The exit code the run would give these results, unless the step list stands for a stop.
  const exitCode = opts.exitCode ?? verdictOf(store.model).exitCode;
  store.finish(exitCode, []);
  emit({ type: 'run-end', model: store.model, exitCode, why: [], ms: 2345 });
  return store;
}

async function parseTap(text: string): Promise<{ seen: string[]; final: { ok: boolean; count: number } }> {
  const seen: string[] = [];
  const parser = new Parser();
  parser.on('child', (child: Parser) => child.on('assert', (a) => seen.push(`${child.name} ${a.name} ${a.ok ? 'ok' : 'not ok'}${a.skip ? ` skip:${a.skip}` : ''}${a.todo ? ` todo:${a.todo}` : ''}${a.diag ? ` ${a.diag.status}` : ''}`)));
  const final = await new Promise<{ ok: boolean; count: number }>((resolve) => {
    parser.on('complete', resolve);
    parser.end(text);
  });
  return { seen, final };
}

t.test('TAP reporter output parses back to the same statuses', async (t) => {
  let text = '';
  drive({ kernels: [k1], steps: [{ kernel: k1 }, ...oneKernel.map((r) => ({ result: r }))] }, new TapReporter((s) => (text += s)));
  const { seen, final } = await parseTap(text);
  t.same(seen, ['minor-faults a ok', 'minor-faults b not ok fail', 'minor-faults c ok skip:kernel lacks UFFD_FEATURE_MOVE', 'missing-faults d not ok timeout']);
  t.equal(final.count, 2, 'one subtest per suite');
  t.notOk(final.ok);
  t.match(text, /^TAP version 14\n/);
});

t.test('TAP with kernels side by side: each kernel\'s subtests whole, named by label, a known failure a TODO', async (t) => {
  const k2 = kernelRecord('deb-bbb', 1, { label: '6.12.117+deb12-cloud-amd64' });
  const expected = { ...result(k2.id, 'minor-faults', 'b', 'fail', 'known'), expected: { reason: 'fixed in 6.13', entry: 'known.yaml:1' } };
  let text = '';
  drive(
    {
      kernels: [k1, k2],
      jobs: 2,
      steps: [{ kernel: k1 }, { kernel: k2 }, { result: result(k1.id, 'minor-faults', 'a', 'pass') }, { result: result(k2.id, 'minor-faults', 'a', 'pass') }, { result: expected }, { end: k2.id }, { result: result(k1.id, 'minor-faults', 'b', 'pass') }, { end: k1.id }],
    },
    new TapReporter((s) => (text += s)),
  );
  const { seen, final } = await parseTap(text);
  t.same(seen, ['6.12.117+deb12-cloud-amd64 minor-faults a ok', '6.12.117+deb12-cloud-amd64 minor-faults b not ok todo:fixed in 6.13 fail', '6.1.0-47-cloud-amd64 minor-faults a ok', '6.1.0-47-cloud-amd64 minor-faults b ok']);
  t.equal(final.count, 2, 'one subtest per kernel and suite, each whole');
  t.ok(final.ok, 'a known failure does not fail the TAP stream');
});

t.test('results directory: run.json is the model, its results in the journal until the end; --json gets the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const extra = join(dir, 'elsewhere', 'run.json');
  mkdirSync(join(dir, 'r'));
  const out = new ResultsDirectory(join(dir, 'r'), { path: extra, replace: true });
  let midway: unknown = null;
  let readBack: RunModel | null = null;
  drive({ kernels: [k1], steps: [{ kernel: k1 }, { result: oneKernel[0]! }, { result: oneKernel[1]! }, { event: { type: 'note', message: 'look now' } }, { result: oneKernel[2]! }, { result: oneKernel[3]! }] }, out, {
    handle: (e) => {
      if (e.type !== 'note') return;
      midway = assertRunValid(t, join(dir, 'r'));
      readBack = readRun(join(dir, 'r'));
    },
  });
  const seen = midway as { results: unknown[]; finishedAt: string | null; journal?: string } | null;
  t.same([seen?.results, seen?.journal], [[], 'events.jsonl'], 'while it runs, run.json is the head and its results are in the journal');
  t.equal(seen?.finishedAt, null, 'and not yet finished');
  t.same((readBack as RunModel | null)?.results.filter((r) => r.filled === undefined).map((r) => r.case), ['a', 'b'], 'read back as results arrived');
  const doc = assertRunValid(t, join(dir, 'r'));
  t.equal(doc.version, 4);
  t.same(doc.kernels, [k1]);
  t.same(doc.results, oneKernel);
  t.same(doc.summary, { pass: 1, fail: 1, skip: 1, timeout: 1, crash: 0, error: 0 });
  t.equal(doc.exitCode, 1);
  t.same(JSON.parse(readFileSync(extra, 'utf8')), doc, '--json gets the same document');
  t.match(readFileSync(join(dir, 'r', 'results.tap'), 'utf8'), /^TAP version 14\n# Subtest: minor-faults\n/);
});

t.test('results directory: the cases a stop leaves without a result are read back at once, and run.json is not rewritten for them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = new ResultsDirectory(dir, null);
  const store = new ResultStore({ command: ['faultline', 'run'], kernels: [{ spec: k1.spec, role: null }], cases, startedAt: new Date('2026-11-28T10:00:00Z') });
  announceStore(store, { emit: (e) => out.handle(e) });
  out.handle({ type: 'run-start', model: store.model, resultsDir: dir, jobs: 1, share: [cases.length] });
  store.addKernel(k1);
  out.handle({ type: 'kernel-ready', kernel: k1 });
  store.record(oneKernel[0]!);
  const written = () => readRun(dir).results.map((r) => `${r.case} ${r.filled ?? 'reported'}`);
  const head = readFileSync(join(dir, 'run.json'), 'utf8');
  t.same(written(), ['a reported', 'b unfinished', 'c unfinished', 'd unfinished'], 'a reported result is read back as it comes');
  store.fillMissing(k1.id, cases, { status: 'error', cause: 'stopped', detail: 'the run was interrupted' });
  t.same(written(), ['a reported', 'b stopped', 'c stopped', 'd stopped'], 'and the filled ones, with nothing left to wait for');
  t.equal(readFileSync(join(dir, 'run.json'), 'utf8'), head, 'run.json, the head, was not rewritten for them');
});

t.test('results directory that cannot be written is an io error naming it', async (t) => {
  t.throws(() => claimResultsDirectory(join(import.meta.dirname, '..', 'package.json', 'results'), new Date()), {
    kind: 'io',
    message: `cannot write results to ${join(import.meta.dirname, '..', 'package.json', 'results')}: ENOTDIR (not a directory)`,
    hint: 'Choose a writable directory with --results DIR.',
  });
});

t.test('terminal reporter without a terminal prints plain final lines, then what needs attention', async (t) => {
  let text = '';
  drive(
    { kernels: [k1], steps: [{ event: { type: 'stage-start', stage: 'kernel' } }, { event: { type: 'stage-end', stage: 'kernel', ms: 1200, cached: true, detail: '6.1.0-47-cloud-amd64' } }, { kernel: k1 }, ...oneKernel.map((r) => ({ result: r }))] },
    new TerminalReporter({ write: (s: string) => (text += s), isTTY: false }),
  );
  t.equal(
    text,
    [
      'faultline: 4 cases on deb-aaa',
      'kernel 1.2s (cached)  6.1.0-47-cloud-amd64',
      'note: TCG: guest time limits x4 (--tcg-slowdown)',
      '  ok      minor-faults/a 4ms',
      '  FAIL    minor-faults/b 4ms  line 9: event: expected flags MINOR, got MINOR|WRITE',
      '  skip    minor-faults/c  kernel lacks UFFD_FEATURE_MOVE',
      '  TIMEOUT missing-faults/d 4ms  case did not finish within 100 ms',
      '',
      'needs attention: 2 failures',
      ' failures',
      '  FAIL  minor-faults/b on 6.1.0-47-cloud-amd64',
      '      line 9: event: expected flags MINOR, got MINOR|WRITE',
      '  TIMEOUT  missing-faults/d on 6.1.0-47-cloud-amd64',
      '      case did not finish within 100 ms',
      '1 passed, 1 failed, 1 skipped, 1 timed out in 2.3s',
      'results: results/x',
      '',
    ].join('\n'),
  );
});

t.test('terminal with several kernels: lines name their kernel; a cases x kernels table and the comparison end the run', async (t) => {
  const base = kernelRecord('deb-base', 0, { label: 'linux', role: 'baseline' });
  const series = kernelRecord('src-series', 1, { label: 'linux+2', role: 'candidate' });
  let text = '';
  drive(
    {
      kernels: [base, series],
      compare: true,
      steps: [
        { kernel: base },
        ...cases.map((c) => ({ result: result(base.id, c.suite, c.case, 'pass') })),
        { kernel: series },
        { result: result(series.id, 'minor-faults', 'a', 'pass') },
        { result: result(series.id, 'minor-faults', 'b', 'fail', 'line 12: ioctl CONTINUE: expected errno EEXIST, got EAGAIN') },
        { result: result(series.id, 'minor-faults', 'c', 'pass') },
        { result: result(series.id, 'missing-faults', 'd', 'pass') },
      ],
    },
    new TerminalReporter({ write: (s: string) => (text += s), isTTY: false }),
  );
  t.match(text, '  FAIL    linux+2  minor-faults/b 4ms  line 12: ioctl CONTINUE: expected errno EEXIST, got EAGAIN\n');
  t.match(text, ['cases x kernels (what did not pass somewhere; ~ known):', '  case            #1      #2     ', '  minor-faults/b  ok      FAIL   ', '  #1 linux', '  #2 linux+2'].join('\n'));
  t.match(text, ['linux+2 against linux: 1 regression (3 unchanged)', '  regression    minor-faults/b  pass -> fail  line 12: ioctl CONTINUE: expected errno EEXIST, got EAGAIN'].join('\n'));
  t.match(text, '7 passed, 1 failed on 2 kernels in 2.3s\n');
});

t.test('kernel reports and fresh guests reach the terminal, TAP and run.json', async (t) => {
  const k = kernelRecord('k', 0, { timeoutScale: 2 });
  const lockup = (n: number) => ({ kind: 'soft-lockup' as const, title: `watchdog: BUG: soft lockup - CPU#0 stuck for ${n}s! [helper:39]`, text: `watchdog: BUG: soft lockup - CPU#0 stuck for ${n}s! [helper:39]\nCall Trace:`, fatal: false });
  const hung: CaseResult = { ...result('k', 'minor-faults', 'a', 'timeout', 'no result: the guest stopped responding'), reports: [lockup(4), lockup(7), lockup(10), lockup(13)] };
  const boot = { kind: 'warning' as const, title: 'WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2', text: 'WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2', fatal: false };
  let text = '';
  let tap = '';
  const dir = mkdtempSync(join(tmpdir(), 'faultline-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  drive(
    {
      kernels: [k],
      steps: [
        { kernel: k },
        { act: (store) => store.addReport({ kernel: 'k', ...boot }) },
        { result: hung },
        { act: (store) => store.addRestart({ kernel: 'k', guest: 2, cases: 3, reason: 'the guest died or hung during minor-faults/a (no end mark in time)' }) },
      ],
    },
    new TerminalReporter({ write: (s: string) => (text += s), isTTY: false }),
    new TapReporter((s) => (tap += s)),
    new ResultsDirectory(dir, null),
  );
  t.match(text, 'note: TCG: guest time limits x2 (--tcg-slowdown)\n');
  t.match(text, `note: kernel warning while no case ran: ${boot.title}\n`);
  t.match(text, '  TIMEOUT minor-faults/a 4ms  no result: the guest stopped responding\n          kernel soft-lockup: watchdog: BUG: soft lockup - CPU#0 stuck for 4s! [helper:39]\n          kernel soft-lockup: watchdog: BUG: soft lockup - CPU#0 stuck for 7s! [helper:39]\n          and 2 more kernel reports in run.json\n');
  t.match(text, 'guest  k #2: the guest died or hung during minor-faults/a (no end mark in time); a fresh guest runs the 3 cases left\n');
  t.match(tap, /kernel_reports:\n\s+- kind: soft-lockup\n\s+title: "watchdog: BUG: soft lockup - CPU#0 stuck for 4s! \[helper:39\]"\n\s+text: \|-?\n\s+watchdog: BUG/);
  const doc = assertRunValid(t, dir);
  t.same(doc.restarts, [{ kernel: 'k', guest: 2, cases: 3, reason: 'the guest died or hung during minor-faults/a (no end mark in time)' }]);
  t.same(doc.reports, [{ kernel: 'k', ...boot }]);
  t.equal(doc.results[0]?.reports?.length, 4);
});

t.test('cases left without a result for one reason: one line, then a count', async (t) => {
  const left = (name: string): CaseResult => filledResult(k1.id, { suite: 'minor-faults', case: name }, { status: 'error', cause: 'stopped', detail: 'the run was interrupted' });
  let text = '';
  drive({ kernels: [k1], steps: [{ result: result(k1.id, 'minor-faults', 'a', 'pass') }, { result: left('b') }, { result: left('c') }, { result: { ...left('d'), suite: 'missing-faults' } }], exitCode: 130 }, new TerminalReporter({ write: (s: string) => (text += s), isTTY: false }));
  t.match(text, ['  ok      minor-faults/a 4ms', '  ERROR   minor-faults/b 0ms  no result: the run was interrupted', '          and 2 more cases with the same reason', ''].join('\n'));
  t.equal(text.split('\nneeds attention')[0]!.match(/^ {2}ERROR /gm)?.length, 1, 'as they arrive, the others are only counted');
  t.match(text, ['needs attention: 1 failure', ' failures', '  ERROR  minor-faults/b on deb-aaa', '      no result: the run was interrupted', '      and 2 more cases with the same reason: minor-faults/c, missing-faults/d'].join('\n'), 'and in what needs attention, one item');
});

t.test('the status line says how far the run is and which case each kernel runs', async (t) => {
  const k2 = kernelRecord('deb-bbb', 1, { label: '6.12' });
  const terminal = new TerminalReporter({ write: () => {}, isTTY: false });
  drive({ kernels: [k1, k2], steps: [{ kernel: k1 }, { kernel: k2 }, { result: result(k1.id, 'minor-faults', 'a', 'pass') }, { event: { type: 'case-start', kernel: k2.id, suite: 'minor-faults', case: 'b' } }, { event: { type: 'note', message: 'x' } }] }, {
    handle: (e) => {
      terminal.handle(e);
      if (e.type === 'note') t.equal(terminal.statusText(), '1/8 cases (6.1.0-47-cloud-amd64 1/4, 6.12 0/4)  |  running 6.12: minor-faults/b');
    },
  });
});
