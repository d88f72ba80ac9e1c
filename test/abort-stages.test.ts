import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { expandDebianGlob } from '../kernels/debian-glob.js';
import { untilLine } from './fixtures/process.js';
import { assertRunValid } from './fixtures/run-schema.js';

// Ctrl-C reaches whatever stage the run is in: a kernel download, its unpacking, the helper's
// build, the kernels of a glob still waiting their turn. Each run here has a cache of its own, so
// the download and the builds really happen.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-abort-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

/** A run with a fresh cache and temporary directory, by name. */
function start(name: string, args: string[]): { child: ResultPromise; cache: string; temp: string; results: string } {
  const cache = join(scratch, name, 'cache');
  const temp = join(scratch, name, 'tmp');
  const results = join(scratch, name, 'results');
  mkdirSync(temp, { recursive: true });
  const child = execa('node', [cli, 'run', ...args, '--results', results], { cwd: root, reject: false, env: { CI: 'true', FAULTLINE_CACHE: cache, TMPDIR: temp } });
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, cache, temp, results };
}

/** Sends SIGINT and waits for the end, saying how long it took. */
async function interrupt(t: Test, child: ResultPromise) {
  const sent = performance.now();
  child.kill('SIGINT');
  const run = await child;
  t.comment(`SIGINT to exit: ${Math.round(performance.now() - sent)} ms`);
  return { exitCode: run.exitCode, stdout: String(run.stdout), stderr: String(run.stderr) };
}

// The biggest kernel image the apt lists hold (not a debug package): the longest download.
const glob = await expandDebianGlob('linux-image-*');
const biggest = [...glob.packages].sort((a, b) => glob.sizes.get(b)! - glob.sizes.get(a)!)[0]!;
const interrupted = /^ {2}ERROR {3}\S+ 0ms {2}no result: the run was interrupted$/m;

/** Processes still working in `dir` (their directory, or an argument, under it): what a stop must not leave. */
function workingIn(dir: string): string[] {
  return readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).flatMap((pid) => {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      return cwd.startsWith(dir) || cmdline.includes(dir) ? [`${pid} ${cmdline}`] : [];
    } catch {
      return []; // gone meanwhile, or not ours to read
    }
  });
}

t.test('Ctrl-C during a kernel download stops apt-get and ends the run at once', async (t) => {
  const { child, cache, temp, results } = start('download', ['--kernel', `debian:${biggest}`]);
  await untilLine(child.stdout!, new RegExp(`^kernel debian:${biggest.replace(/[.+]/g, '\\$&')} download$`), 120_000);
  const run = await interrupt(t, child);
  if (!t.equal(run.exitCode, 130, 'the exit code of SIGINT')) t.comment(run.stdout + run.stderr);
  t.match(run.stdout, interrupted, 'its cases say the run was interrupted');
  t.equal(assertRunValid(t, results).exitCode, 130);
  t.same(workingIn(temp), [], 'apt-get and its methods are not left downloading');
  t.notOk(existsSync(join(cache, 'kernels', 'debian', 'index.json')), 'nothing half-downloaded is kept in the cache');
  t.same(readdirSync(temp), [], 'the download\'s temporary directory is gone');
  t.notMatch(run.stdout, /^helper /m, 'the later stages never started');
});

t.test('Ctrl-C while the package is unpacked ends the run at once', async (t) => {
  const { child, cache, temp } = start('unpack', ['--kernel', `debian:${biggest}`]);
  await untilLine(child.stdout!, / unpack$/, 300_000);
  const run = await interrupt(t, child);
  if (!t.equal(run.exitCode, 130, 'the exit code of SIGINT')) t.comment(run.stdout + run.stderr);
  t.match(run.stdout, interrupted);
  t.notMatch(run.stdout, /^(image|accel) /m, 'the image and accelerator stages never ran');
  t.same(workingIn(temp), [], 'dpkg-deb, its decompressor and tar are not left unpacking');
  t.same(readdirSync(temp), [], 'the unpacking\'s temporary directory is gone');
  t.notOk(existsSync(join(cache, 'images')), 'no image was built');
});

t.test('Ctrl-C during the helper build stops gcc', async (t) => {
  const { child, cache } = start('helper', ['--kernel', 'host', '--suite', join(root, 'test', 'fixtures', 'suites', 'skip-causes.yaml')]);
  // The host needs no kernel stage worth the name: the run starts with the helper's build.
  await untilLine(child.stdout!, /^kernel host /, 60_000);
  const run = await interrupt(t, child);
  if (!t.equal(run.exitCode, 130, 'the exit code of SIGINT')) t.comment(run.stdout + run.stderr);
  t.match(run.stdout, interrupted);
  t.notMatch(run.stdout, /^helper /m, 'the helper stage did not finish');
  const helpers = join(cache, 'helpers');
  t.same(existsSync(helpers) ? readdirSync(helpers) : [], [], 'no helper, and no half-built one, is left in the cache');
});

const six = glob.packages.filter((p) => /^linux-image-6\.1\.0-\d+-cloud-amd64$/.test(p));
const fewSix = six.length < 3 ? 'this machine\'s apt lists hold fewer than 3 Debian 6.1 cloud kernels' : false;

t.test('Ctrl-C in a glob run: the kernels waiting their turn are never downloaded', { skip: fewSix }, async (t) => {
  const { child, cache, results } = start('glob', ['--kernel', 'debian:linux-image-6.1.0-*-cloud-amd64', '--yes', '--jobs', '2']);
  await untilLine(child.stdout!, /^kernel debian:linux-image-6\.1\.0-\d+-cloud-amd64 download$/, 120_000);
  const run = await interrupt(t, child);
  if (!t.equal(run.exitCode, 130, 'the exit code of SIGINT')) t.comment(run.stdout + run.stderr);
  const started = run.stdout.split('\n').filter((l) => l.endsWith(' download'));
  t.equal(started.length, 1, `one download started, of ${six.length} (${started.join('; ')})`);
  t.notOk(existsSync(join(cache, 'kernels', 'debian', 'index.json')), 'none was stored');
  const doc = assertRunValid(t, results);
  t.equal(doc.kernels.length, six.length);
  t.same(doc.results.filter((r) => r.reason !== 'no result: the run was interrupted'), [], 'every kernel\'s cases are marked interrupted');
  t.equal(doc.results.length, six.length * doc.matrix.cases.length);
});
