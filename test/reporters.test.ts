import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Parser } from 'tap-parser';
import type { CaseResult, RunEvent } from '../runner/events.js';
import { TapReporter } from '../runner/reporters/tap.js';
import { TerminalReporter } from '../runner/reporters/terminal.js';
import { claimResultsDirectory } from '../runner/results/location.js';
import { ResultsDirectory } from '../runner/results/results-dir.js';

const result = (suite: string, name: string, status: CaseResult['status'], reason: string | null = null): CaseResult => ({
  kernel: '6.1.0-47-cloud-amd64', suite, case: name, status, reason, durationMs: 4,
});
const results = [
  result('minor-faults', 'a', 'pass'),
  result('minor-faults', 'b', 'fail', 'line 9: event: expected flags MINOR, got MINOR|WRITE\nsecond line # with hash'),
  result('minor-faults', 'c', 'skip', 'kernel lacks UFFD_FEATURE_MOVE'),
  result('missing-faults', 'd', 'timeout', 'case did not finish within 100 ms'),
];
const events: RunEvent[] = [
  { type: 'run-start', resultsDir: 'results/x', kernels: ['6.1.0-47-cloud-amd64'], cases: 4 },
  { type: 'stage-start', stage: 'kernel' },
  { type: 'stage-end', stage: 'kernel', ms: 1200, cached: true, detail: '6.1.0-47-cloud-amd64' },
  { type: 'kernel-ready', kernel: { id: '6.1.0-47-cloud-amd64', release: '6.1.0-47-cloud-amd64', accel: 'tcg', timeoutScale: 4 }, dir: '', qemuCommand: ['qemu-system-x86_64', '-append', 'console=ttyS0 reboot=t'] },
  ...results.map((r): RunEvent => ({ type: 'case-result', result: r })),
  { type: 'run-end', results, exitCode: 1, ms: 2345 },
];

t.test('TAP reporter output parses back to the same statuses', async (t) => {
  let text = '';
  const tap = new TapReporter((s) => (text += s));
  for (const e of events) tap.handle(e);
  const seen: string[] = [];
  const parser = new Parser();
  parser.on('child', (child: Parser) => child.on('assert', (a) => seen.push(`${child.name} ${a.name} ${a.ok ? 'ok' : 'not ok'}${a.skip ? ` skip:${a.skip}` : ''}${a.diag ? ` ${a.diag.status}` : ''}`)));
  const final = await new Promise<{ ok: boolean; count: number }>((resolve) => {
    parser.on('complete', resolve);
    parser.end(text);
  });
  t.same(seen, ['minor-faults a ok', 'minor-faults b not ok fail', 'minor-faults c ok skip:kernel lacks UFFD_FEATURE_MOVE', 'missing-faults d not ok timeout']);
  t.equal(final.count, 2, 'one subtest per suite');
  t.notOk(final.ok);
  t.match(text, /^TAP version 14\n/);
});

t.test('results directory: run.json and results.tap kept current', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const extra = join(dir, 'elsewhere', 'run.json');
  mkdirSync(join(dir, 'r'));
  const out = new ResultsDirectory(join(dir, 'r'), ['run', '--tap'], { path: extra, replace: true });
  for (const e of events.slice(0, 6)) out.handle(e);
  const partial = JSON.parse(readFileSync(join(dir, 'r', 'run.json'), 'utf8'));
  t.equal(partial.results.length, 2, 'written as results arrive');
  t.equal(partial.finishedAt, null);
  for (const e of events.slice(6)) out.handle(e);
  const doc = JSON.parse(readFileSync(join(dir, 'r', 'run.json'), 'utf8'));
  t.equal(doc.version, 1);
  t.same(doc.kernels, [{ id: '6.1.0-47-cloud-amd64', release: '6.1.0-47-cloud-amd64', accel: 'tcg', timeoutScale: 4 }]);
  t.same(doc.results, results);
  t.same(doc.summary, { pass: 1, fail: 1, skip: 1, timeout: 1, crash: 0, error: 0 });
  t.equal(doc.exitCode, 1);
  t.same(JSON.parse(readFileSync(extra, 'utf8')), doc, '--json gets the same document');
  t.equal(readFileSync(join(dir, 'r', 'qemu-command.txt'), 'utf8'), "qemu-system-x86_64 -append 'console=ttyS0 reboot=t'\n");
  t.match(readFileSync(join(dir, 'r', 'results.tap'), 'utf8'), /^TAP version 14\n# Subtest: minor-faults\n/);
});

t.test('results directory that cannot be written is an io error naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  t.throws(() => claimResultsDirectory(join(file, 'results'), new Date()), {
    kind: 'io',
    message: `cannot write results to ${join(file, 'results')}: ENOTDIR (not a directory)`,
    hint: 'Choose a writable directory with --results DIR.',
  });
});

t.test('terminal reporter without a terminal prints plain final lines', async (t) => {
  let text = '';
  const terminal = new TerminalReporter({ write: (s: string) => (text += s), isTTY: false });
  for (const e of events) terminal.handle(e);
  t.equal(
    text,
    [
      'faultline: 4 cases on 6.1.0-47-cloud-amd64',
      'kernel 1.2s (cached)  6.1.0-47-cloud-amd64',
      'note: TCG: guest time limits x4 (--tcg-slowdown)',
      '  ok      minor-faults/a 4ms',
      '  FAIL    minor-faults/b 4ms  line 9: event: expected flags MINOR, got MINOR|WRITE\nsecond line # with hash',
      '  skip    minor-faults/c  kernel lacks UFFD_FEATURE_MOVE',
      '  TIMEOUT missing-faults/d 4ms  case did not finish within 100 ms',
      '1 passed, 1 failed, 1 skipped, 1 timed out in 2.3s',
      'results: results/x',
      '',
    ].join('\n'),
  );
});

t.test('kernel reports and fresh guests reach the terminal, TAP and run.json', async (t) => {
  const lockup = (n: number) => ({ kind: 'soft-lockup' as const, title: `watchdog: BUG: soft lockup - CPU#0 stuck for ${n}s! [helper:39]`, text: `watchdog: BUG: soft lockup - CPU#0 stuck for ${n}s! [helper:39]\nCall Trace:`, fatal: false });
  const hung: CaseResult = { ...result('zeropage', 'dontwake', 'timeout', 'no result: the guest stopped responding'), findings: [lockup(4), lockup(7), lockup(10), lockup(13)] };
  const boot = { kind: 'warning' as const, title: 'WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2', text: 'WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2', fatal: false };
  const stream: RunEvent[] = [
    { type: 'run-start', resultsDir: null, kernels: ['k'], cases: 2 },
    { type: 'kernel-ready', kernel: { id: 'k', release: null, accel: 'tcg', timeoutScale: 2 }, dir: '', qemuCommand: ['qemu-system-x86_64'] },
    { type: 'kernel-finding', kernel: 'k', finding: boot },
    { type: 'case-result', result: hung },
    { type: 'guest-restart', kernel: 'k', dir: '', guest: 2, cases: 1, reason: 'the guest died or hung during zeropage/dontwake (no end mark in time)', qemuCommand: ['qemu-system-x86_64', '-initrd', 'initrd-2.img'] },
    { type: 'case-result', result: result('zeropage', 'after', 'pass') },
    { type: 'run-end', results: [hung, result('zeropage', 'after', 'pass')], exitCode: 1, ms: 1000 },
  ];
  let text = '';
  const terminal = new TerminalReporter({ write: (s: string) => (text += s), isTTY: false });
  let tap = '';
  const tapReporter = new TapReporter((s) => (tap += s));
  const dir = mkdtempSync(join(tmpdir(), 'faultline-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = new ResultsDirectory(dir, [], null);
  for (const e of stream) [terminal, tapReporter, out].forEach((r) => r.handle(e));
  t.match(text, 'note: TCG: guest time limits x2 (--tcg-slowdown)\n');
  t.match(text, `note: kernel warning while no case ran: ${boot.title}\n`);
  t.match(text, '  TIMEOUT zeropage/dontwake 4ms  no result: the guest stopped responding\n          kernel soft-lockup: watchdog: BUG: soft lockup - CPU#0 stuck for 4s! [helper:39]\n          kernel soft-lockup: watchdog: BUG: soft lockup - CPU#0 stuck for 7s! [helper:39]\n          and 2 more kernel reports in run.json\n');
  t.match(text, 'guest  k #2: the guest died or hung during zeropage/dontwake (no end mark in time); a fresh guest runs the 1 case left\n');
  t.match(tap, /kernel_reports:\n\s+- kind: soft-lockup\n\s+title: "watchdog: BUG: soft lockup - CPU#0 stuck for 4s! \[helper:39\]"\n\s+text: \|-?\n\s+watchdog: BUG/);
  const doc = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  t.same(doc.restarts, [{ kernel: 'k', guest: 2, cases: 1, reason: 'the guest died or hung during zeropage/dontwake (no end mark in time)' }]);
  t.same(doc.findings, [{ kernel: 'k', ...boot }]);
  t.equal(doc.results[0].findings.length, 4);
  t.equal(readFileSync(join(dir, 'qemu-command-2.txt'), 'utf8'), 'qemu-system-x86_64 -initrd initrd-2.img\n');
});

t.test('cases left without a result for one reason: one line, then a count', async (t) => {
  const left = (name: string): CaseResult => ({ ...result('minor-faults', name, 'error', 'no result: the run was interrupted'), durationMs: 0 });
  let text = '';
  const terminal = new TerminalReporter({ write: (s: string) => (text += s), isTTY: false });
  for (const e of [
    { type: 'case-result', result: result('minor-faults', 'a', 'pass') },
    { type: 'case-result', result: left('b') },
    { type: 'case-result', result: left('c') },
    { type: 'case-result', result: left('d') },
    { type: 'run-end', results: [], exitCode: 130, ms: 10 },
  ] as RunEvent[]) terminal.handle(e);
  t.equal(
    text,
    [
      '  ok      minor-faults/a 4ms',
      '  ERROR   minor-faults/b 0ms  no result: the run was interrupted',
      '          and 2 more cases with the same reason',
      '0 passed, 0 failed in 0.0s',
      '',
    ].join('\n'),
  );
});
