import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { comparisonClasses } from '../runner/model/types.js';
import { assertRunValid } from './fixtures/run-schema.js';

// Flags that would make a run say less than the user thinks: refused before anything is built,
// exit 2, each with its one paragraph. And a guest whose agent never starts: an infrastructure
// failure (exit 3), its cases errors, never a crash a comparison would call a regression.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-flags-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const classes = comparisonClasses.join(', ');

/** Refused with exit 2 and exactly this paragraph, leaving no results directory. */
async function refused(t: Test, args: string[], stderr: string): Promise<void> {
  const results = join(scratch, `refused-${args.join('-').replace(/[^\w-]+/g, '_')}`);
  const run = await faultline([...args, ...(args[0] === 'run' ? ['--results', results] : [])]);
  t.equal(run.exitCode, 2, args.join(' '));
  t.equal(run.stderr, stderr, args.join(' '));
  t.notOk(existsSync(results), 'nothing was made');
}

t.test('--baseline naming the kernel under test: nothing could regress', async (t) => {
  const stderr = 'faultline: --baseline host is also a kernel under test: compared with itself, no case can regress\n  Give --baseline the kernel the change is measured against, or drop --baseline to run the kernel alone.';
  await refused(t, ['run', '--baseline', 'host', '--kernel', 'host'], stderr);
  await refused(t, ['run', '--kernel', 'host', '--baseline', ' host '], stderr);
});

t.test('--append that replaces faultline\'s init', async (t) => {
  const hint = '  Drop rdinit= and init= from --append; faultline\'s initramfs runs its own agent as init. To look around in a guest, boot it by hand from a results directory (qemu-command.txt).';
  await refused(t, ['run', '--append', 'rdinit=/bin/sh'], `faultline: --append rdinit=/bin/sh replaces faultline's init: the guest agent that runs the cases would never start\n${hint}`);
  await refused(t, ['run', '--append', 'oops=panic', '--append', 'quiet init=/sbin/init'], `faultline: --append init=/sbin/init replaces faultline's init: the guest agent that runs the cases would never start\n${hint}`);
});

t.test('--fail-on naming nothing, and --case matching everything', async (t) => {
  const hint = `  Use none, or a list of: ${classes}.`;
  await refused(t, ['run', '--kernel', 'host', '--fail-on', ''], `faultline: --fail-on "" names no class of the comparison\n${hint}`);
  await refused(t, ['run', '--kernel', 'host', '--fail-on', ' , '], `faultline: --fail-on " , " names no class of the comparison\n${hint}`);
  await refused(t, ['run', '--kernel', 'host', '--fail-on', 'regression,'], `faultline: --fail-on regression,: "" is not a class of the comparison\n${hint}`);
  const run = join(root, 'test', 'fixtures', 'runs', 'host');
  await refused(t, ['compare', run, run, '--fail-on', ''], `faultline: --fail-on "" names no class of the comparison\n${hint}`);
  await refused(t, ['run', '--kernel', 'host', '--case', 'read-minor', '--case', ''], 'faultline: --case "" names no case: an empty pattern matches every case\n  Give part of a suite/case name (e.g. --case read-minor), or drop --case to run every case.');
});

// One real boot: the kernel never unpacks the initramfs (its initcall is blacklisted), so it
// panics looking for a root filesystem and the agent never runs. (rdinit= would do it too, and
// is refused above.) QEMU ends by itself at the panic: nothing waits for the agent's ready mark.
t.test('a kernel that never starts the agent: every case is an error with the kernel\'s own words, exit 3', async (t) => {
  const dir = join(scratch, 'no-agent');
  const run = await faultline(['run', '--case', 'read-minor-continue-shmem', '--append', 'initcall_blacklist=populate_rootfs', '--results', dir]);
  t.equal(run.exitCode, 3, run.stdout + run.stderr);
  const doc = assertRunValid(t, dir);
  const label = doc.kernels[0]!.label;
  const why = `${label}: the kernel did not start the faultline agent (the kernel panicked: "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"); see console.log`;
  t.same(doc.results.map((r) => [r.case, r.status, r.filled, r.reason]), [
    ['read-minor-continue-shmem', 'error', 'no-agent', 'no result: the kernel did not start the faultline agent (the kernel panicked: "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"); see console.log'],
  ]);
  t.same([doc.exitCode, doc.why, doc.kernels[0]!.failure], [3, [why], why]);
  t.match(doc.reports, [{ kind: 'panic', fatal: true, title: 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)' }], 'the boot-time panic is kept with no case');
  t.same(doc.restarts, [], 'a guest whose agent never started is not restarted');
  t.equal(run.stderr, `faultline: ${why}\n  faultline's agent is the guest's init, and it never said it was ready; ${join(dir, 'console.log')} shows how far the boot got. The kernel must unpack a gzip initramfs (CONFIG_BLK_DEV_INITRD, CONFIG_RD_GZIP), and --append must leave it alone.`);
  const end = JSON.parse(readFileSync(join(dir, 'guest-end.json'), 'utf8')) as { recorded: { stoppedBy: unknown }; timedOut: boolean };
  t.same([end.recorded.stoppedBy, end.timedOut], [null, false], 'the guest ended by itself: no limit of the host stopped it');
});
