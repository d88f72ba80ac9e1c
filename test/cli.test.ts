import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Parser } from 'tap-parser';
import { readRun as readRunModel } from '../runner/model/document.js';
import type { RunModel as RunDocument } from '../runner/model/types.js';
import { hostAccel, type HostAccel } from './fixtures/host.js';
import { eventually, untilLine } from './fixtures/process.js';
import { assertRunValid } from './fixtures/run-schema.js';

// The built CLI, run as a user runs it: real kernels, real QEMU, real helper.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-cli-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

// What the run will choose on this host, decided by the run's own code (test/accel.test.ts
// covers every kind of host).
let host: HostAccel;
t.before(async () => {
  host = await hostAccel();
});

const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const readRun = (dir: string): RunDocument => assertRunValid(t, dir);

t.test('default suites on the Debian cloud kernel under QEMU: everything passes or skips with a reason', async (t) => {
  const dir = join(scratch, 'guest');
  // as `npm start` runs them: with the shipped known failures
  const run = await faultline(['run', '--expect', 'suites/expect/known-failures.yaml', '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  const doc = readRun(dir);
  t.equal(doc.version, 4);
  t.match(doc.host, { cpus: availableParallelism(), qemu: /^QEMU emulator version \d/ }, 'where it ran: the QEMU that booted it');
  t.equal(doc.kernels.length, 1);
  t.match(doc.kernels[0], { id: /^deb-[0-9a-f]{24}$/, label: /^6\.1\.0-\d+-cloud-amd64$/, release: /^6\.1\.0-\d+-cloud-amd64$/, accel: host.choice.accel, accelProof: { reason: host.choice.reason.replace(/ \(probe cached for this host boot\)$/, '') } });
  const suites = new Set(doc.results.map((r) => r.suite));
  t.same([...suites].sort(), readdirSync(join(root, 'suites')).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort(), 'every shipped suite');
  t.ok(doc.results.length >= 60, `ran ${doc.results.length} cases`);
  const known = doc.results.filter((r) => r.expected).map((r) => `${r.suite}/${r.case} ${r.status}`);
  t.same(known, ['fork-events/wp-fork-private-hugetlb fail'], "6.1's uffd-wp bit in a child without EVENT_FORK, and only it, is a known failure");
  for (const r of doc.results.filter((r) => !r.expected)) {
    t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.suite}/${r.case}: ${r.status} ${r.reason ?? ''}`);
  }
  t.ok(doc.results.filter((r) => r.status === 'pass').length >= 55, 'the 6.1 kernel passes the cases it supports');
  t.equal(doc.results.find((r) => r.case === 'swapped-out-minor-shmem')?.status, 'pass', 'the guest gets swap when a case needs it');
  for (const r of doc.results.filter((r) => r.status === 'skip')) t.match(r.reason, /^needs kernel 6\.4 or newer/, `${r.case} skips only for its kernel release`);
  // The guest's helper knows nothing of expectations: the known failure makes it exit 1, and the host accepts it.
  t.match(readFileSync(join(dir, 'console.log'), 'utf8'), /Linux version 6\.1\.0[\s\S]*faultline: case minor-faults\/read-minor-continue-shmem begin[\s\S]*faultline: agent done rc=1/);
  t.match(readFileSync(join(dir, 'qemu-command.txt'), 'utf8'), /\n\S*qemu-system-x86_64 .*-no-reboot .*-initrd initrd\.img .*-chardev file,id=result,path=results-replay\.raw /);

  t.test('a second run rebuilds nothing', async (t) => {
    const again = await faultline(['run', '--results', join(scratch, 'guest2'), '--case', 'read-minor-continue-shmem']);
    t.equal(again.exitCode, 0, again.stdout + again.stderr);
    for (const stage of ['kernel', 'helper', 'image']) t.match(again.stdout, new RegExp(`^${stage} .*\\(cached\\)`, 'm'), `${stage} cached`);
    // Only a probe's verdict is kept; a host with no usable device is decided again at no cost.
    const accelLine = again.stdout.split('\n').find((l) => l.startsWith('accel ')) ?? '';
    if (host.cachedOnRerun) t.match(accelLine, /\(cached\)/, `accel cached on a host of the kind "${host.kind}"`);
    else t.match(accelLine, /^accel +\S+ \d+\.\ds {2}\w+: (?!.*\(cached\))/, `accel decided afresh on a host of the kind "${host.kind}"`);
    const reason = host.choice.reason.replace(/ \(probe cached for this host boot\)$/, '');
    t.ok(accelLine.endsWith(`  ${host.choice.accel}: ${reason}${host.cachedOnRerun ? ' (probe cached for this host boot)' : ''}`), accelLine);
    t.same(readRun(join(scratch, 'guest2')).results.map((r) => `${r.case} ${r.status}`), ['read-minor-continue-shmem pass']);
  });

  t.test('qemu-command.txt boots the same guest again, from the results directory', async (t) => {
    const guest = join(scratch, 'guest2');
    const again = await execa('sh', ['qemu-command.txt'], { cwd: guest, reject: false, timeout: 120_000 });
    t.equal(again.exitCode, 0, again.stderr);
    const results = (file: string) => readFileSync(join(guest, file), 'utf8').replace(/ # time=\d+ms/g, '');
    t.equal(results('results-replay.raw'), results('results.raw'), 'the same TAP, times aside');
    t.match(again.stdout, /faultline: case minor-faults\/read-minor-continue-shmem begin/);
  });
});

t.test('--kernel host runs the same cases on the running kernel', async (t) => {
  const dir = join(scratch, 'host');
  const json = join(scratch, 'elsewhere', 'host.json');
  const run = await faultline(['run', '--kernel', 'host', '--results', dir, '--json', json]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  const doc = readRun(dir);
  t.same(JSON.parse(readFileSync(json, 'utf8')), doc, '--json writes the same document');
  t.match(doc.kernels, [{ id: /^host-[0-9a-f]{24}$/, label: 'host', accel: 'host' }]);
  t.ok(doc.results.length >= 60);
  for (const r of doc.results) t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.case}: ${r.status} ${r.reason ?? ''}`);
  // As root the host's userfaultfd is usable, and the cases that need nothing else must pass.
  if (process.getuid?.() === 0) {
    const needNothing = doc.results.filter((r) => r.suite === 'missing-faults' && r.case.endsWith('-anon'));
    t.ok(needNothing.length >= 10, `${needNothing.length} anonymous-memory cases`);
    t.same(needNothing.filter((r) => r.status !== 'pass').map((r) => `${r.case}: ${r.status} ${r.reason}`), [], 'each of them passes on the host');
  }
  for (const r of doc.results.filter((r) => r.status === 'skip' && /huge pages/.test(r.reason ?? ''))) {
    t.match(r.reason, /sysctl vm\.nr_hugepages=\d+/, 'a huge page skip names the command that meets it');
  }
});

t.test('--tap prints TAP 14 on stdout and a failing case exits 1 with its reason', async (t) => {
  const suite = join(root, 'test', 'fixtures', 'suites', 'wrong-expectation.yaml');
  const run = await faultline(['run', '--kernel', 'host', '--suite', suite, '--tap', '--results', join(scratch, 'tap')]);
  t.equal(run.exitCode, 1);
  const asserts: { name: string; ok: boolean; diag: unknown }[] = [];
  const parser = new Parser();
  parser.on('child', (child: Parser) => child.on('assert', (a) => asserts.push({ name: a.name, ok: a.ok, diag: a.diag })));
  await new Promise((resolve) => {
    parser.on('complete', resolve);
    parser.end(run.stdout);
  });
  t.match(run.stdout, /^TAP version 14\n/);
  t.same(asserts.map((a) => `${a.name} ${a.ok}`), ['continue-mapped-claims-success-shmem false', 'sleeps true']);
  t.match(asserts[0]!.diag, { status: 'fail', reason: 'line 14: ioctl CONTINUE: expected success, got EEXIST (mapped=-17 (-EEXIST))' });
  t.match(run.stderr, /1 passed, 1 failed/, 'progress goes to stderr');
});

t.test('bad input: exit codes and one clear paragraph', async (t) => {
  const bad = join(root, 'test', 'fixtures', 'suites', 'bad-unknown-step-key.yaml');
  const suite = await faultline(['run', '--kernel', 'host', '--suite', bad, '--results', join(scratch, 'bad')]);
  t.equal(suite.exitCode, 2);
  t.match(suite.stderr, `${bad}:4:42: cases[0].steps[0].map.alais: unknown key "alais" (allowed: backend, share, pages, alias, thp)`);
  t.notMatch(suite.stderr, /\n\s+at /, 'no stack trace');

  const kernel = await faultline(['run', '--kernel', join(scratch, 'no-such-bzImage'), '--results', join(scratch, 'bad2')]);
  t.equal(kernel.exitCode, 3);
  t.match(kernel.stderr, /no-such-bzImage/);

  const notKernel = await faultline(['run', '--kernel', join(root, 'package.json'), '--results', join(scratch, 'bad3')]);
  t.equal(notKernel.exitCode, 3);
  t.match(notKernel.stderr, /package\.json/);

  const usage = await faultline(['run', '--accel', 'warp']);
  t.equal(usage.exitCode, 2);
  t.match(usage.stderr, /warp/);
});

t.test('list shows every case with its needs', async (t) => {
  const list = await faultline(['list']);
  t.equal(list.exitCode, 0);
  t.match(list.stdout, /^minor-faults \(\d+ cases\)/m);
  t.match(list.stdout, /^ {2}read-minor-continue-hugetlb {2}\[.*feature MINOR_HUGETLBFS.*huge page/m);
  t.match(list.stdout, /^ {2}continue-mode-wp-shmem {2}\[kernel >= 6\.4/m);
  const allowing = await faultline(['list', '--suite', join(root, 'test', 'fixtures', 'suites', 'continue-dontwake-allowed.yaml')]);
  t.match(allowing.stdout, /^ {2}console: allows \/faultline fixture: UFFDIO_CONTINUE with DONTWAKE\/ \(the warns fixture patch warns here on purpose\)$/m, 'a suite\'s allowed reports are listed');
});

t.test('SIGINT mid-run stops QEMU, keeps what finished and marks the rest', async (t) => {
  const dir = join(scratch, 'interrupted');
  const temp = join(scratch, 'interrupted-tmp');
  mkdirSync(temp);
  const child = execa('node', [cli, 'run', '--results', dir], { cwd: root, reject: false, env: { CI: 'true', TMPDIR: temp } });
  await untilLine(child.stdout!, /^ {2}ok /, 300_000);
  child.kill('SIGINT');
  const run = await child;
  t.equal(run.exitCode, 130);
  const doc = readRun(dir);
  t.equal(doc.exitCode, 130);
  t.ok(doc.finishedAt, 'run.json was finished');
  t.ok(doc.results.some((r) => r.status === 'pass'), 'results that arrived are kept');
  const rest = doc.results.filter((r) => r.status !== 'pass' && r.status !== 'skip');
  t.ok(rest.length > 0 && rest.every((r) => r.status === 'error' && r.reason === 'no result: the run was interrupted'), 'the rest are errors, never passes');
  const left = await execa('pgrep', ['-f', '--', join(dir, 'initrd')], { reject: false });
  t.equal(left.exitCode, 1, `no QEMU outlives faultline (still running: ${left.stdout})`);
  t.same(readdirSync(temp), [], 'its temporary files are gone');
});

t.test('each skip says why: a release gate, a feature the kernel lacks, a resource the machine lacks', async (t) => {
  const suite = join(root, 'test', 'fixtures', 'suites', 'skip-causes.yaml');
  const dir = join(scratch, 'skip-causes');
  const run = await faultline(['run', '--kernel', 'host', '--suite', suite, '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.same(readRun(dir).results.map((r) => `${r.case} ${r.status} ${r.skipCause}`), [
    'release-gate skip release',
    'feature-needed skip feature',
    'feature-opened skip feature',
    'huge-pages skip resource',
  ]);
});

t.test('feature bits newer than faultline: raw values in a suite', async (t) => {
  const suite = join(root, 'test', 'fixtures', 'suites', 'raw-feature-bits.yaml');
  const dir = join(scratch, 'raw-bits');
  const run = await faultline(['run', '--kernel', 'host', '--suite', suite, '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.same(readRun(dir).results.map((r) => `${r.case} ${r.status}${r.reason ? `: ${r.reason}` : ''}`), [
    'minor-shmem-by-number pass',
    'needs-known-bit-by-number pass',
    'future-bit-needed skip: kernel lacks uffd feature bits 0x40000000',
    'future-bit-opened skip: kernel lacks uffd feature bits 0x40000000',
  ]);
  t.match(readFileSync(join(dir, 'plan.txt'), 'utf8'), /^open features=0x400 line=8$/m);
});

t.test('SIGKILL mid-run: run.json and results.tap still read back what finished, and QEMU dies too', async (t) => {
  const dir = join(scratch, 'killed');
  const child = execa('node', [cli, 'run', '--results', dir], { cwd: root, reject: false, env: { CI: 'true' } });
  await untilLine(child.stdout!, /^ {2}ok /, 300_000);
  child.kill('SIGKILL');
  await child;
  // run.json is the run's head until the end; what arrived is in its journal, read back with it.
  t.same(readRun(dir).results, [], 'run.json on disk is the head');
  const doc = readRunModel(dir);
  t.equal(doc.finishedAt, null, 'the run never finished');
  const passed = doc.results.filter((r) => r.status === 'pass').map((r) => r.case);
  t.ok(passed.length > 0, 'results that arrived are on disk');
  const tap = readFileSync(join(dir, 'results.tap'), 'utf8');
  for (const name of passed) t.match(tap, new RegExp(`^ {4}ok \\d+ - ${name} `, 'm'), `${name} in results.tap`);
  // QEMU gets SIGKILL from the kernel when faultline dies (PR_SET_PDEATHSIG); its exit takes a moment.
  const qemuGone = async () => (await execa('pgrep', ['-f', '--', join(dir, 'initrd')], { reject: false })).exitCode === 1;
  t.ok(await eventually(qemuGone, 10_000), 'QEMU was killed with its parent');
});

t.test('a reader that goes away (| head) stops the output, not the run', async (t) => {
  const dir = join(scratch, 'closed-pipe');
  const child = execa('node', [cli, 'run', '--kernel', 'host', '--tap', '--results', dir], { cwd: root, reject: false, env: { CI: 'true' } });
  child.stdout!.once('data', () => child.stdout!.destroy());
  const run = await child;
  t.equal(run.exitCode, 0, run.stderr);
  t.notMatch(run.stderr, /EPIPE|\n\s+at /, 'no stack trace');
  const doc = readRun(dir);
  t.ok(doc.finishedAt, 'the run finished');
  t.ok(doc.results.length >= 60, 'with every case');
});
