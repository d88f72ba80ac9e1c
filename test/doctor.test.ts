import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { kvmDeviceProblem } from '../runner/qemu/accel.js';
import { defaultKernel } from './fixtures/host.js';

// `faultline doctor` on this machine (set up by .ci/setup), and on a PATH that has only node.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const bare = mkdtempSync(join(tmpdir(), 'faultline-doctor-'));
t.teardown(() => rmSync(bare, { recursive: true, force: true }));
symlinkSync(process.execPath, join(bare, 'node'));

t.before(async () => {
  await defaultKernel(); // in the cache, so the bare PATH needs no apt to find it
});

t.test('a set-up machine has everything', async (t) => {
  const run = await execa('node', [cli, 'doctor'], { reject: false, env: { CI: 'true', DOCKER_HOST: '' } });
  t.equal(run.exitCode, 0, run.stdout);
  for (const name of ['cache', 'qemu', 'setpriv', 'busybox', 'cpio', 'helper', 'accel', 'kbuild']) t.match(run.stdout, new RegExp(`^ok {7}${name} `, 'm'), name);
  t.match(run.stdout, /^ok {7}helper {3}gcc -static builds the uffd helper/m);
  t.match(run.stdout, /^ok {7}accel {4}(kvm|tcg): /m);
  t.match(run.stdout, /\neverything faultline needs is here$/);
});

t.test('what is missing is named with the package that installs it', async (t) => {
  const run = await execa(join(bare, 'node'), [cli, 'doctor'], { reject: false, env: { PATH: bare, HOME: process.env.HOME ?? bare, DOCKER_HOST: `unix://${join(bare, 'docker.sock')}` } });
  t.equal(run.exitCode, 3);
  const expected = [
    'MISSING  qemu     qemu-system-x86_64 not found\n                  fix: apt-get install qemu-system-x86',
    'MISSING  setpriv  no setpriv with --pdeathsig: a QEMU could outlive a faultline killed outright\n                  fix: apt-get install util-linux',
    'MISSING  busybox  busybox not found\n                  fix: apt-get install busybox-static',
    'MISSING  cpio     cpio not found\n                  fix: apt-get install cpio',
    'MISSING  helper   cannot run gcc: ENOENT\n                  fix: apt-get install gcc libc6-dev',
    'MISSING  kbuild   make not found\n                  fix: apt-get install make',
    // The Docker engine is needed only by images other than busybox: without one, doctor says so and goes on.
    `ok       engine   none answers at unix://${join(bare, 'docker.sock')}; only images other than busybox and --build-image need one`,
  ];
  // Without a usable /dev/kvm there is nothing to probe, so the check needs no QEMU.
  const problem = await kvmDeviceProblem();
  expected.push(problem ? `ok       accel    tcg: ${problem}; using TCG` : 'MISSING  accel    qemu-system-x86_64 not found\n                  fix: apt-get install qemu-system-x86');
  for (const text of expected) t.ok(run.stdout.includes(text), text.split('\n')[0] ?? text);
  t.match(run.stdout, /^ok {7}cache /m, 'the cache is still writable');
  t.match(run.stdout, new RegExp(`^${expected.filter((e) => e.startsWith('MISSING')).length} missing$`, 'm'), 'the count is of the checks above');
});
