import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import type { RunModel as RunDocument } from '../runner/model/types.js';
import { assertJunitValid } from './fixtures/junit-schema.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';
import { assertRunValid } from './fixtures/run-schema.js';
import { reportTellsTheRun } from './fixtures/same-report.js';

// The kernel under test misbehaving for real: Debian's 6.1 tree with a fixture patch that
// warns, oopses or hangs in the userfaultfd ioctl path, built and booted by faultline.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const patches = join(root, 'test', 'fixtures', 'patches');
const zeropage = join(root, 'test', 'fixtures', 'suites', 'zeropage-dontwake.yaml');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-kernel-faults-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());


const run = async (dir: string, args: string[], env: Record<string, string> = {}) => {
  const out = await execa('node', [cli, 'run', '--tree', tree, '--results', join(scratch, dir), ...args], { cwd: root, reject: false, env: { CI: 'true', ...env } });
  const doc = assertRunValid(t, join(scratch, dir));
  return { out, doc, dir: join(scratch, dir), result: (name: string) => doc.results.find((r) => r.case === name)! };
};
const statuses = (doc: RunDocument) => doc.results.map((r) => `${r.case} ${r.status}`);

// The runs below run their cases side by side (a guest's default): the verdicts are the ones a
// serial run gives, on the same cases. This shows the case that misbehaved really had company:
// the guest's plan ran several at once, and another case was running while it ran.
function ranBeside(t: Test, dir: string, name: string, console = 'console.log', plan = 'plan.txt'): void {
  t.match(readFileSync(join(dir, plan), 'utf8'), /^plan 1\nworkers [2-9]\n/, `${plan}: cases side by side`);
  const running = new Set<string>();
  let company = false;
  for (const m of readFileSync(join(dir, console), 'utf8').matchAll(/faultline: case \S+\/(\S+) (begin|end)/g)) {
    if (m[2] === 'begin') running.add(m[1]!);
    else running.delete(m[1]!);
    if (running.has(name) && running.size > 1) company = true;
  }
  t.ok(company, `${console}: another case ran while ${name} did`);
}

/** The zeropage cases and a first one that only sleeps (`ms`), so that the middle case's kernel
 * report comes while another case runs. */
function withCompany(ms: number): string {
  const file = join(scratch, `zeropage-beside-${ms}.yaml`);
  const companion = `cases:\n  - name: beside\n    description: sleeps beside the others\n    timeout: 30s\n    steps:\n      - sleep: ${ms}ms\n\n`;
  writeFileSync(file, readFileSync(zeropage, 'utf8').replace(/^cases:\n/m, companion));
  return file;
}

/** Whether another case was running when the console's first line matching `report` came. */
function reportHadCompany(dir: string, report: RegExp): boolean {
  const running = new Set<string>();
  for (const line of readFileSync(join(dir, 'console.log'), 'utf8').split('\n')) {
    const m = /faultline: case \S+\/(\S+) (begin|end)$/.exec(line.trim());
    if (m) m[2] === 'begin' ? running.add(m[1]!) : running.delete(m[1]!);
    else if (report.test(line)) return running.size > 1;
  }
  return false;
}

/** The case whose task the console's task marks name by this pid. */
function taskOwner(dir: string, pid: string): string | null {
  const marks = [...readFileSync(join(dir, 'console.log'), 'utf8').matchAll(/faultline: case \S+\/(\S+) task (\d+)/g)];
  return marks.filter((m) => m[2] === pid).at(-1)?.[1] ?? null;
}

t.test('a WARNING in a path the suites use fails the case that passed its own checks', async (t) => {
  const { out, doc, dir, result } = await run('warns', ['--patches', join(patches, 'warns'), '--suite', join(root, 'suites', 'minor-faults.yaml'), '--case', 'continue-dontwake']);
  t.equal(out.exitCode, 1, out.stdout + out.stderr);
  // WARN_ONCE: only the first case that hits it, which side by side may be either one; the
  // failing case is the one whose task the WARNING names, and the other passes.
  const failed = doc.results.filter((r) => r.status === 'fail').map((r) => r.case);
  t.equal(failed.length, 1, statuses(doc).join(', '));
  t.same(statuses(doc).filter((s) => !s.startsWith(`${failed[0]} `)).map((s) => s.replace(/^\S+ /, '')), ['pass']);
  const warned = result(failed[0]!);
  t.equal(taskOwner(dir, /PID: (\d+)/.exec(warned.reason ?? '')?.[1] ?? ''), warned.case, 'the WARNING names a task of the case it failed');
  ranBeside(t, dir, warned.case);
  t.match(warned.reason, /^kernel warning: WARNING: CPU: \d+ PID: \d+ at fs\/userfaultfd\.c:\d+ userfaultfd_ioctl\+/);
  t.equal(warned.reports?.length, 1);
  t.match(warned.reports?.[0]?.text, /^faultline fixture: UFFDIO_CONTINUE with DONTWAKE\nWARNING:[\s\S]*Call Trace:[\s\S]*---\[ end trace/);
  t.match(readFileSync(join(dir, 'results.tap'), 'utf8'), /kernel_reports:\n\s+- kind: warning\n\s+title: "?WARNING: CPU/);

  t.test('the same warning allowed by the suite: pass, with the warning recorded', async (t) => {
    const allowed = await run('warns-allowed', ['--patches', join(patches, 'warns'), '--suite', join(root, 'test', 'fixtures', 'suites', 'continue-dontwake-allowed.yaml')]);
    t.equal(allowed.out.exitCode, 0, allowed.out.stdout + allowed.out.stderr);
    t.same(statuses(allowed.doc), ['continue-dontwake-shmem pass']);
    t.match(allowed.doc.results[0]!.reports, [{ kind: 'warning', allowed: 'the warns fixture patch warns here on purpose' }]);
  });

  t.test('an allow pattern that backtracks without end is set aside; the run, its timers and signals go on', async (t) => {
    const started = performance.now();
    const slow = await run('warns-backtracking', ['--patches', join(patches, 'warns'), '--suite', join(root, 'test', 'fixtures', 'suites', 'continue-dontwake-backtracking.yaml'), '--timeout', '5m']);
    t.ok(performance.now() - started < 120_000, 'the run ended on its own time');
    t.equal(slow.out.exitCode, 1, slow.out.stdout + slow.out.stderr);
    t.same(statuses(slow.doc), ['continue-dontwake-shmem fail']);
    const reason = slow.doc.results[0]!.reason ?? '';
    t.match(reason, /^kernel warning: WARNING: CPU: \d+ PID: \d+ at fs\/userfaultfd\.c:\d+ userfaultfd_ioctl\+\S+; allow pattern \/\(\\w\+\\s\?\)\+QQQ\/ not applied: it runs over 100 ms on a report \(catastrophic backtracking\); simplify it$/);
    t.match(slow.doc.results[0]!.reports, [{ kind: 'warning', allowSkipped: /^allow pattern/ }]);
    t.equal(slow.doc.results[0]!.reports?.[0]?.allowed, undefined);
  });
});

t.test('an oops in the ioctl path: that case crashes with the oops, the kernel goes on and so do the cases', async (t) => {
  const { out, doc, dir, result } = await run('oopses', ['--patches', join(patches, 'oopses'), '--suite', withCompany(1500)]);
  t.equal(out.exitCode, 1, out.stdout + out.stderr);
  ranBeside(t, dir, 'dontwake');
  t.ok(reportHadCompany(dir, /BUG: kernel NULL pointer dereference/), 'the oops came while another case ran: its task tied it');
  t.same(statuses(doc), ['beside pass', 'before pass', 'dontwake crash', 'after pass']);
  t.match(result('dontwake').reason, /^kernel oops: BUG: kernel NULL pointer dereference, address: 0+/);
  t.match(result('dontwake').reports, [{ kind: 'oops', fatal: true, text: /Oops: 0002[\s\S]*RIP: \S+:userfaultfd_ioctl\+[\s\S]*Call Trace:/ }]);
  t.match(result('dontwake').reason, /; line \d+: ioctl: the case's main thread died in the kernel/, 'the helper saw the task die');
  t.same(doc.restarts, [], 'one guest was enough');
});

t.test('a panic (oops=panic): the case crashes with the panic, a fresh guest runs the rest', async (t) => {
  const junit = join(scratch, 'panics.junit.xml');
  const summary = join(scratch, 'panics-summary.md');
  const { out, doc, dir, result } = await run('panics', ['--patches', join(patches, 'oopses'), '--suite', zeropage, '--append', 'oops=panic', '--junit', junit], { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
  t.equal(out.exitCode, 1, out.stdout + out.stderr);
  t.same(statuses(doc), ['before pass', 'dontwake crash', 'after pass']);
  t.same(result('dontwake').reports?.map((f) => f.kind), ['oops', 'panic']);
  t.match(result('dontwake').reason, /the guest died during this case(, its task named by the kernel's report)?: the kernel panicked: "Kernel panic - not syncing: Fatal exception"/);
  // The case that panicked beside others: the panic (its oops's task) is its own, and the cases
  // beside it get no verdict from it and run again in the fresh guest.
  // (When both had ended before the panic, no case is left and no guest is needed.)
  t.ok(doc.restarts.length <= 1, 'at most one fresh guest');
  t.notOk(doc.results.some((r) => r.ranAlone), 'nobody was a suspect');
  ranBeside(t, dir, 'dontwake');
  if (doc.restarts.length === 1) {
    t.match(doc.restarts, [{ guest: 2, reason: /during zeropage-dontwake\/dontwake/ }]);
    t.match(readFileSync(join(dir, 'console-2.log'), 'utf8'), /faultline: case zeropage-dontwake\/(before|after) begin/);
    t.ok(existsSync(join(dir, 'qemu-command-2.txt')), 'the fresh guest can be replayed');
    t.match(out.stdout, /^guest  linux-source-6\.1\+1 #2: the guest died during zeropage-dontwake\/dontwake/m, 'the restart is told');
  }
  await assertJunitValid(t, junit);

  t.test('faultline report tells the saved run as the run told it, restart included', async (t) => {
    await reportTellsTheRun(t, cli, root, scratch, { dir, stdout: out.stdout, exitCode: out.exitCode, junit, summary });
  });
});

t.test('a hang with preemption off: timeout, soft lockups reported in the case, then the rest', async (t) => {
  const { out, doc, dir, result } = await run('hangs', ['--patches', join(patches, 'hangs'), '--suite', zeropage, '--append', 'watchdog_thresh=1', '--tcg-slowdown', '2']);
  t.equal(out.exitCode, 1, out.stdout + out.stderr);
  t.same(statuses(doc), ['before pass', 'dontwake timeout', 'after pass']);
  ranBeside(t, dir, 'dontwake');
  // The hang stops the one vCPU: the cases still running with it are suspects, run again alone
  // (the one that hangs alone gets its timeout there); those that had ended keep their result.
  const alone = doc.results.filter((r) => r.ranAlone).map((r) => r.case);
  t.ok(alone.length === 0 || alone.includes('dontwake'), `run again alone: ${alone.join(', ') || 'none'}`);
  t.match(result('dontwake').reason, /^no result: the guest stopped responding during this case \(no end mark within 16s: its 3s limit \+ 5s grace, x2 for TCG\); QEMU was stopped; kernel soft-lockup: watchdog: BUG: soft lockup/);
  const lockups = result('dontwake').reports ?? [];
  t.ok(lockups.length >= 2, `${lockups.length} soft lockup reports`);
  t.ok(lockups.every((f) => f.kind === 'soft-lockup' && /userfaultfd_ioctl/.test(f.text)));
  // A fresh guest runs what the hang left: suspects (alone), then cases not yet ended. When the
  // others had both ended in the first guest before the hang, nothing is left and none is needed.
  const firstConsole = readFileSync(join(dir, 'console.log'), 'utf8');
  const endedFirst = ['before', 'after'].every((c) => firstConsole.includes(`faultline: case zeropage-dontwake/${c} end`));
  t.equal(doc.restarts.length, alone.length > 0 ? 2 : endedFirst ? 0 : 1, `fresh guests: ${alone.length > 0 ? 'the suspects, then the hang alone' : endedFirst ? 'none, the others had ended' : 'one for the cases left'}`);
  t.match(out.stdout, /note: TCG: guest time limits x2/);
  t.same(doc.kernels.map((k) => k.timeoutScale), [2]);

  t.test('--timeout: the run stops at its limit, cases left get timeout, no QEMU outlives it', async (t) => {
    // TCG with a large factor: the hang is caught only after (3 s + 5 s) x 10, long after the run's limit.
    // One case at a time: which cases a hang leaves without a result is then fixed by the plan's order.
    const limited = await run('run-limit', ['--patches', join(patches, 'hangs'), '--suite', zeropage, '--accel', 'tcg', '--tcg-slowdown', '10', '--timeout', '20s', '--workers', '1']);
    t.equal(limited.out.exitCode, 1, limited.out.stdout + limited.out.stderr);
    t.same(statuses(limited.doc), ['before pass', 'dontwake timeout', 'after timeout']);
    t.equal(limited.result('after').reason, "no result: the run's time limit (20s) ran out");
    t.equal(limited.result('dontwake').reason, "no result: the run's time limit (20s) ran out");
    const left = await execa('pgrep', ['-f', '--', limited.dir], { reject: false });
    t.equal(left.exitCode, 1, `no QEMU outlives the run (still running: ${left.stdout})`);
  });
});

t.test('a task asleep for good in the kernel: timeout with the hung-task report, the rest run in the same guest', async (t) => {
  // x6: the case's 18 s limit leaves the detector (6 s period, a report within two) room to speak.
  // The companion sleeps about as long as the stuck case lasts (18 s), so the hung-task report
  // (6 to 12 s in) comes beside it and costs the run no time.
  const { out, doc, dir, result } = await run('sleeps', ['--patches', join(patches, 'sleeps'), '--suite', withCompany(16_000), '--tcg-slowdown', '6']);
  t.equal(out.exitCode, 1, out.stdout + out.stderr);
  t.same(statuses(doc), ['beside pass', 'before pass', 'dontwake timeout', 'after pass']);
  ranBeside(t, dir, 'dontwake');
  t.ok(reportHadCompany(dir, /INFO: task \S+ blocked for more than/), 'the hung-task report came while another case ran: the task it names tied it');
  t.match(result('dontwake').reason, /^line \d+: ioctl: timed out after 18000ms; the case process did not die after SIGKILL \(stuck in the kernel\); kernel hung-task: INFO: task helper:\d+ blocked for more than 6 seconds\./);
  t.match(result('dontwake').reports?.[0]?.text, /Call Trace:[\s\S]*userfaultfd_ioctl/, 'with the stuck stack');
  t.same(doc.restarts, [], 'no fresh guest was needed');
});

t.test('every fixture patch applies to the tree', async (t) => {
  const faults = ['warns', 'oopses', 'hangs', 'sleeps'];
  for (const dir of faults) t.equal(readdirSync(join(patches, dir)).length, 1, `${dir} holds its one patch`);
  for (const dir of faults) {
    const patch = join(patches, dir, readdirSync(join(patches, dir))[0]!);
    const check = await execa('git', ['apply', '--check', patch], { cwd: tree, reject: false });
    t.equal(check.exitCode, 0, `${dir}: ${check.stderr}`);
  }
});
