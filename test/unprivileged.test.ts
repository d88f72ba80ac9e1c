import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { kvmDeviceProblem } from '../runner/qemu/accel.js';
import { defaultKernel } from './fixtures/host.js';
import { assertRunValid } from './fixtures/run-schema.js';

// After the root set-up, an ordinary user runs faultline with a kernel in their own cache:
// a real user made for this test (or this user, when the tests run unprivileged).
const root = join(import.meta.dirname, '..');
const asRoot = process.geteuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'faultline-user-'));
const name = `faultline-t${process.pid}`;
const home = join(work, 'home');
let uid = process.geteuid?.() ?? 0;
let gid = process.getegid?.() ?? 0;
let project = root;

t.before(async () => {
  mkdirSync(home);
  await chmod(work, 0o755);
  if (!asRoot) return;
  await execa('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', name]);
  uid = Number((await execa('id', ['-u', name])).stdout);
  gid = Number((await execa('id', ['-g', name])).stdout);
  // The checkout may sit where this user cannot read (under /root): then the user gets a copy.
  if ((await asUser(['test', '-r', join(root, 'dist', 'runner', 'cli.js')], {})).exitCode !== 0) {
    project = join(work, 'faultline');
    for (const part of ['package.json', 'dist', 'node_modules', 'suites', 'images', 'kernels']) cpSync(join(root, part), join(project, part), { recursive: true });
  }
  // The default kernel, as the user's own cache would hold it after their first run.
  const kernel = await defaultKernel();
  const cache = join(home, '.cache', 'faultline', 'kernels', 'debian');
  mkdirSync(cache, { recursive: true });
  const shared = join(kernel.image!, '..', '..');
  cpSync(join(shared, relative(shared, join(kernel.image!, '..'))), join(cache, relative(shared, join(kernel.image!, '..'))), { recursive: true });
  cpSync(join(shared, 'index.json'), join(cache, 'index.json'));
  await execa('chown', ['-R', `${uid}:${gid}`, home]);
});
t.teardown(async () => {
  if (asRoot) await execa('userdel', [name], { reject: false });
  rmSync(work, { recursive: true, force: true });
});

// `env -i`: the user's environment and nothing else (the test runner adds variables of its own
// to every child, which would make this user's node write into the runner's directory).
function asUser(argv: string[], env: Record<string, string>) {
  const prefix = asRoot ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'] : [];
  const vars = Object.entries({ PATH: process.env.PATH ?? '/usr/bin:/bin', CI: 'true', ...env }).map(([k, v]) => `${k}=${v}`);
  const [command, ...args] = [...prefix, 'env', '-i', ...vars, ...argv];
  return execa(command!, args, { cwd: home, reject: false });
}

t.test(`an ordinary user (${asRoot ? 'made for this test' : 'this one'}) runs a case under QEMU`, async (t) => {
  const run = await asUser(['node', join(project, 'dist', 'runner', 'cli.js'), 'run', '--case', 'read-minor-continue-shmem', '--results', 'out'], { HOME: home });
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  const doc = assertRunValid(t, join(home, 'out'));
  t.same(doc.results.map((r) => `${r.case} ${r.status}`), ['read-minor-continue-shmem pass']);
  // What the device check says for this user decides the accelerator, as in the run.
  let problem: string | null;
  if (asRoot) {
    process.seteuid!(uid);
    try {
      problem = await kvmDeviceProblem();
    } finally {
      process.seteuid!(0);
    }
  } else {
    problem = await kvmDeviceProblem();
  }
  if (problem) {
    t.match(doc.kernels, [{ accel: 'tcg' }]);
    t.match(run.stdout, `tcg: ${problem}; using TCG`, 'the run says why it uses TCG');
  }
  t.ok(existsSync(join(home, '.cache', 'faultline', 'helpers')), 'the helper was built in the user\'s own cache');
});

t.test('a cache this user cannot write is named with its fix', { skip: asRoot ? false : 'an unprivileged user is needed for a cache that cannot be written' }, async (t) => {
  const run = await asUser(['node', join(project, 'dist', 'runner', 'cli.js'), 'run', '--case', 'read-minor-continue-shmem'], { HOME: '/' });
  t.equal(run.exitCode, 3, run.stderr);
  t.equal(run.stderr, 'faultline: cannot use the cache directory /.cache/faultline: EACCES (permission denied)\n  Set FAULTLINE_CACHE to a directory this user can write (it is ~/.cache/faultline).');
  t.notOk(existsSync(join(home, 'results')), 'no results directory was left');
});
