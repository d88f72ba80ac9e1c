import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { classify, ReportScanner, type ScannedReport } from '../runner/console/kernel-reports.js';
import { reportKinds } from '../runner/model/types.js';
import { ConsoleWatcher, type WatchedReport } from '../runner/console/watcher.js';
import { LineSplitter } from '../runner/qemu/lines.js';

// Real consoles: runs/ are faultline guests booting the fixture-patched 6.1 kernels (case marks
// as the helper writes them); the <kind>.log files were recorded by record.sh, one splat kind each.
const consoles = join(import.meta.dirname, 'fixtures', 'console');
const read = (name: string) => readFileSync(join(consoles, name));

/** Feeds raw console bytes in uneven chunks, as QEMU's stdout delivers them. */
function watch(bytes: Buffer, chunk = 61): { watcher: ConsoleWatcher; reports: WatchedReport[] } {
  const reports: WatchedReport[] = [];
  const watcher = new ConsoleWatcher({ report: (f) => reports.push(f) });
  const lines = new LineSplitter((line) => watcher.line(line));
  for (let i = 0, n = 0; i < bytes.length; n++) {
    const size = chunk + (n % 7);
    lines.write(bytes.subarray(i, i + size));
    i += size;
  }
  lines.end();
  watcher.end();
  return { watcher, reports };
}

const during = (f: WatchedReport) => (f.during ? `${f.during.suite}/${f.during.case}` : null);

t.test('a WARNING in a case: its message, first line and call trace, tied to that case', async (t) => {
  const { reports } = watch(read('runs/warning.log'));
  t.equal(reports.length, 1);
  const [w] = reports as [WatchedReport];
  t.equal(w.kind, 'warning');
  t.equal(w.fatal, false);
  t.equal(during(w), 'minor-faults/continue-dontwake-eexist-no-wake-shmem');
  t.match(w.title, /^WARNING: CPU: 0 PID: \d+ at fs\/userfaultfd\.c:\d+ userfaultfd_ioctl\+0x/);
  t.match(w.text, /^faultline fixture: UFFDIO_CONTINUE with DONTWAKE\nWARNING: CPU/, 'the WARN() message comes first');
  t.match(w.text, /Call Trace:\n <TASK>\n[\s\S]* <\/TASK>\n---\[ end trace [0-9a-f]+ \]---$/, 'up to the end mark');
});

t.test('an oops in a case: fatal, one report for "BUG:" and "Oops:", the kernel going on', async (t) => {
  const { reports, watcher } = watch(read('runs/oops.log'));
  t.same(reports.map((f) => [f.kind, f.fatal, during(f)]), [['oops', true, 'zeropage-dontwake/dontwake']]);
  t.equal(reports[0]!.title, 'BUG: kernel NULL pointer dereference, address: 0000000000000000');
  t.match(reports[0]!.text, /\nOops: 0002 \[#1\][\s\S]*userfaultfd_ioctl[\s\S]*---\[ end trace/);
  t.ok(watcher.ended.has('zeropage-dontwake/after'), 'the later case began and ended in the same guest');
});

t.test('oops=panic: the oops and the panic, both in the case; the guest dies with no end mark', async (t) => {
  const { reports, watcher } = watch(read('runs/panic.log'));
  t.same(reports.map((f) => [f.kind, f.fatal, during(f)]), [
    ['oops', true, 'zeropage-dontwake/dontwake'],
    ['panic', true, 'zeropage-dontwake/dontwake'],
  ]);
  t.equal(reports[1]!.title, 'Kernel panic - not syncing: Fatal exception');
  t.same(watcher.current, { suite: 'zeropage-dontwake', case: 'dontwake' }, 'the case that was running when the console stopped');
});

t.test('a hung guest: each soft lockup report separately, ending after its call trace', async (t) => {
  const { reports } = watch(read('runs/soft-lockup.log'));
  t.ok(reports.length >= 2, `${reports.length} reports`);
  for (const f of reports) {
    t.equal(f.kind, 'soft-lockup');
    t.equal(during(f), 'zeropage-dontwake/dontwake');
    t.match(f.title, /^watchdog: BUG: soft lockup - CPU#0 stuck for \d+s! \[helper:\d+\]$/);
    t.match(f.text, /userfaultfd_ioctl[\s\S]*<\/TASK>$/);
    t.notMatch(f.text, /clocksource/, 'unrelated lines after the trace are not part of it');
  }
});

t.test('a whole clean run on the Debian kernel: no reports, every case begun and ended', async (t) => {
  const { reports, watcher } = watch(read('runs/debian-clean.log'));
  t.same(reports, []);
  t.ok(watcher.ready);
  t.equal(watcher.current, null);
  t.equal(watcher.ended.size, 66, 'every case that ran (the two skipped ones write no marks)');
});

t.test('the same reports whatever the chunking', async (t) => {
  for (const name of ['runs/warning.log', 'runs/panic.log', 'runs/soft-lockup.log']) {
    const whole = watch(read(name), 1 << 20).reports;
    for (const chunk of [1, 3, 17, 4096]) t.same(watch(read(name), chunk).reports, whole, `${name} in ${chunk}-byte chunks`);
  }
});

t.test('reports outside any case are kept with no case; timestamps and carriage returns are dropped', async (t) => {
  const reports: ScannedReport[] = [];
  const scanner = new ReportScanner((s) => reports.push(s));
  for (const line of ['[    0.512345] WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2\r', '[    0.512400] Call Trace:', '[    0.512401]  <TASK>', '[    0.512402]  </TASK>', '[    0.512403] ---[ end trace 0000000000000000 ]---']) scanner.line(line);
  t.same(reports.map((f) => [f.kind, f.title]), [['warning', 'WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2']]);
  const watcher = new ConsoleWatcher();
  watcher.line('WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel+0x1/0x2');
  watcher.end();
  t.equal(watcher.reports[0]!.during, null);
});

t.test('first lines of every kind classify, and ordinary lines do not', async (t) => {
  const firstLines: [string, (typeof reportKinds)[number]][] = [
    ['Kernel panic - not syncing: Fatal exception', 'panic'],
    ['BUG: kernel NULL pointer dereference, address: 0000000000000000', 'oops'],
    ['BUG: unable to handle page fault for address: ffffc90000a3f000', 'oops'],
    ['general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI', 'oops'],
    ['kernel BUG at mm/userfaultfd.c:120!', 'bug'],
    ['BUG: sleeping function called from invalid context at mm/userfaultfd.c:80', 'bug'],
    ['WARNING: CPU: 1 PID: 77 at mm/userfaultfd.c:120 mfill_atomic+0x9/0x10', 'warning'],
    ['BUG: KASAN: slab-use-after-free in userfaultfd_ctx_put+0x1/0x2', 'kasan'],
    ['BUG: KFENCE: use-after-free read in userfaultfd_release+0x1/0x2', 'kfence'],
    ['UBSAN: array-index-out-of-bounds in fs/userfaultfd.c:100:5', 'ubsan'],
    ['WARNING: possible circular locking dependency detected', 'lockdep'],
    ['WARNING: possible recursive locking detected', 'lockdep'],
    ['WARNING: suspicious RCU usage', 'lockdep'],
    ['INFO: task helper:39 blocked for more than 2 seconds.', 'hung-task'],
    ['watchdog: BUG: soft lockup - CPU#0 stuck for 4s! [helper:39]', 'soft-lockup'],
    ['NMI watchdog: Watchdog detected hard LOCKUP on cpu 0', 'hard-lockup'],
    ['rcu: INFO: rcu_sched self-detected stall on CPU', 'rcu-stall'],
    ['rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:', 'rcu-stall'],
    ['rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 0-... } 21 jiffies s: 37 root: 0x1/.', 'rcu-stall'],
  ];
  for (const [line, kind] of firstLines) t.equal(classify(line)?.kind, kind, line);
  for (const line of ['RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks, data leaks possible!', 'MDS CPU bug present and SMT on, data leak possible.', 'faultline: case a/b begin', 'Linux version 6.1.192', 'clocksource: Switched to clocksource tsc', 'rcu: Hierarchical RCU implementation.', 'Run /init as init process']) {
    t.equal(classify(line), null, line);
  }
});

/** The last line each kind's report is kept up to (a panic's is wherever the console stopped). */
const reportEnds = {
  warning: /^---\[ end trace [0-9a-f]+ \]---$/,
  bug: /^---\[ end trace [0-9a-f]+ \]---$/,
  oops: /^---\[ end trace [0-9a-f]+ \]---$/,
  kasan: /^={20,}$/,
  kfence: /^={20,}$/,
  ubsan: /^={20,}$/,
  lockdep: /^ <\/TASK>$/,
  'hung-task': /^ <\/TASK>$/,
  'soft-lockup': /^ <\/TASK>$/,
  'rcu-stall': /^ <\/TASK>$/,
};

t.test('recorded consoles of each kind: found, of that kind, in the recording case', async (t) => {
  const recorded = readdirSync(consoles).filter((f) => f.endsWith('.log'));
  // Hard lockups cannot be recorded under TCG (no PMU, no NMI watchdog): see the README there.
  t.same(recorded.map((f) => f.replace(/\.log$/, '')).sort(), reportKinds.filter((k) => k !== 'hard-lockup').sort(), 'one recording per kind');
  for (const file of recorded) {
    const kind = file.replace(/\.log$/, '');
    const { reports } = watch(read(file));
    const own = reports.filter((f) => f.kind === kind);
    t.ok(own.length > 0, `${file}: a ${kind} report (found ${reports.map((f) => f.kind).join(', ') || 'none'})`);
    t.ok(own.every((f) => during(f) === `record/${kind}`), `${file}: attributed to record/${kind}`);
    t.ok(own.every((f) => f.text.split('\n').length > 2), `${file}: the report's body is kept`);
    const end = reportEnds[kind as keyof typeof reportEnds];
    if (end) t.match(own[0]!.text.split('\n').at(-1), end, `${file}: the report runs to its own end`);
  }
});

/** Scans lines written out here (formats other kernels print, not recorded). */
function scan(lines: string[]): ScannedReport[] {
  const found: ScannedReport[] = [];
  const scanner = new ReportScanner((s) => found.push(s));
  for (const line of lines) scanner.line(line);
  scanner.flush();
  return found;
}

t.test('a BUG: that only dumps its stack ends with the stack, and an oops after it is its own report', async (t) => {
  const found = scan([
    'BUG: sleeping function called from invalid context at mm/userfaultfd.c:80',
    'in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 40, name: helper',
    'Call Trace:',
    ' <TASK>',
    ' dump_stack_lvl+0x45/0x5e',
    ' </TASK>',
    'random: crng init done',
    'general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP',
    'Oops: 0000 [#2] SMP',
    '---[ end trace 0000000000000000 ]---',
  ]);
  t.same(found.map((f) => [f.kind, f.fatal, f.text.split('\n').length]), [['bug', false, 6], ['oops', true, 3]]);
});

t.test('UBSAN as newer kernels print it (cut here ... end trace) ends at its end mark', async (t) => {
  const found = scan(['------------[ cut here ]------------', 'UBSAN: array-index-out-of-bounds in mm/userfaultfd.c:10:5', 'index 4 is out of range for type \'int [4]\'', 'Call Trace:', ' <TASK>', ' </TASK>', '---[ end trace 0000000000000000 ]---', 'clocksource: Switched to clocksource tsc']);
  t.same(found.map((f) => [f.kind, f.text.split('\n').at(-1)]), [['ubsan', '---[ end trace 0000000000000000 ]---']]);
});

t.test('a call trace without <TASK> marks (kernels before 5.13) ends at the first line that is not a frame', async (t) => {
  const found = scan(['INFO: task helper:40 blocked for more than 120 seconds.', 'task:helper state:D stack:0 pid:40', 'Call Trace:', ' __schedule+0x2e0/0x8a0', ' schedule+0x46/0xb0', 'clocksource: Switched to clocksource tsc']);
  t.same(found.map((f) => [f.kind, f.text.split('\n').at(-1)]), [['hung-task', ' schedule+0x46/0xb0']]);
});
