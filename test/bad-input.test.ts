import { execa } from 'execa';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { defaultKernelPackage } from '../kernels/default.js';
import { fetchDebianKernel } from '../kernels/debian.js';
import { cacheDir } from '../runner/paths.js';
import type { RunDocument } from '../runner/results/run-document.js';

// Item 6 of the robustness issue as a table: each bad input gets its exit code and one clear
// paragraph naming the input and the fix, never a stack trace. The CLI is the built one, run
// as a user runs it, against a real kernel and real tools (taken off PATH to be "missing").
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-bad-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const suites = join(root, 'test', 'fixtures', 'suites');
const firstError = (name: string) => readFileSync(join(suites, `${name}.errors`), 'utf8').split('\n')[0]!.replace('FILE', join(suites, `${name}.yaml`));

let kernel = '';
t.before(async () => {
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root });
  kernel = (await fetchDebianKernel(await defaultKernelPackage(), { cacheDir: cacheDir() })).image;
});

/** A PATH holding every program of the real one except `without`. */
function pathWithout(...without: string[]): string {
  const bin = mkdtempSync(join(scratch, 'bin-'));
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (without.includes(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(dir, name), join(bin, name));
    }
  }
  return bin;
}

interface Row {
  input: string;
  args: () => string[];
  env?: () => NodeJS.ProcessEnv;
  exit: number;
  says: (string | RegExp)[];
  /** Where the run got as far as planning cases: run.json marks every one `error` with this reason. */
  marks?: { dir: string; reason: RegExp };
}

const results = (name: string) => ['--results', join(scratch, name)];
const rows: Row[] = [
  { input: 'malformed YAML', args: () => ['run', '--kernel', 'host', '--suite', join(suites, 'bad-yaml-syntax.yaml'), ...results('r1')], exit: 2, says: [firstError('bad-yaml-syntax')] },
  { input: 'an unknown key', args: () => ['run', '--kernel', 'host', '--suite', join(suites, 'bad-unknown-suite-key.yaml'), ...results('r2')], exit: 2, says: [firstError('bad-unknown-suite-key'), 'unknown key "tests"'] },
  { input: 'a wrong type', args: () => ['run', '--kernel', 'host', '--suite', join(suites, 'bad-wrong-type.yaml'), ...results('r3')], exit: 2, says: [firstError('bad-wrong-type')] },
  { input: 'duplicate case names', args: () => ['run', '--kernel', 'host', '--suite', join(suites, 'bad-duplicate-case.yaml'), ...results('r4')], exit: 2, says: [firstError('bad-duplicate-case')] },
  { input: 'a suite file that does not exist', args: () => ['run', '--suite', join(scratch, 'nope.yaml'), ...results('r5')], exit: 2, says: ['cannot read suite', 'nope.yaml: ENOENT', '--suite'] },
  { input: 'a kernel path that does not exist', args: () => ['run', '--kernel', join(scratch, 'no-bzImage'), ...results('r6')], exit: 3, says: [`kernel file ${join(scratch, 'no-bzImage')} does not exist`, 'give the path of a bzImage'] },
  { input: 'a file that is not a kernel', args: () => ['run', '--kernel', join(root, 'package.json'), ...results('r7')], exit: 3, says: ['package.json is not a bzImage (no "HdrS" boot header)'] },
  {
    input: 'a truncated bzImage',
    args: () => {
      const cut = join(scratch, 'cut-bzImage');
      writeFileSync(cut, readFileSync(kernel).subarray(0, 1 << 20));
      return ['run', '--kernel', cut, ...results('r8')];
    },
    exit: 3,
    says: [/cut-bzImage is truncated: its boot header describes \d+ bytes, the file has 1048576/, 'copy or download the kernel again'],
  },
  {
    input: 'a corrupt kernel package',
    args: () => {
      const deb = join(scratch, 'linux-image-garbage.deb');
      writeFileSync(deb, randomBytes(4096));
      return ['run', '--kernel', deb, ...results('r9')];
    },
    exit: 3,
    says: ['linux-image-garbage.deb is not a readable Debian package', 'probably truncated or corrupt'],
  },
  {
    input: 'a truncated kernel package',
    args: () => {
      const deb = join(scratch, 'truncated.deb');
      writeFileSync(deb, readFileSync(join(scratch, 'whole.deb')).subarray(0, 300_000));
      return ['run', '--kernel', deb, ...results('r10')];
    },
    exit: 3,
    says: ['truncated.deb is not a readable Debian package', 'download it again'],
  },
  { input: 'QEMU missing', args: () => ['run', '--case', 'read-minor-continue-shmem', ...results('r11')], env: () => ({ PATH: pathWithout('qemu-system-x86_64') }), exit: 3, says: ['qemu-system-x86_64 not found', 'apt-get install qemu-system-x86'], marks: { dir: 'r11', reason: /^no result: qemu-system-x86_64 not found$/ } },
  { input: 'gcc missing', args: () => ['run', '--case', 'read-minor-continue-shmem', ...results('r12')], env: () => ({ PATH: pathWithout('gcc') }), exit: 3, says: ['cannot run gcc: ENOENT', 'apt-get install gcc libc6-dev'] },
  { input: 'busybox missing', args: () => ['run', '--case', 'read-minor-continue-shmem', ...results('r13')], env: () => ({ PATH: pathWithout('busybox') }), exit: 3, says: ['busybox not found', 'apt-get install busybox-static'], marks: { dir: 'r13', reason: /^no result: busybox not found$/ } },
  { input: 'a results directory that cannot be written', args: () => ['run', '--kernel', 'host', '--results', join(root, 'package.json', 'results')], exit: 3, says: ['cannot write results to', 'package.json', '--results DIR'] },
  {
    input: 'a cache directory kbuild cannot build in',
    args: () => ['build', '--tree', join(scratch, 'any-tree')],
    env: () => ({ FAULTLINE_CACHE: join(scratch, 'cache with space') }),
    exit: 3,
    says: [`kbuild cannot build under the cache directory "${join(scratch, 'cache with space')}": its path has a space or a colon`, 'set FAULTLINE_CACHE'],
  },
  { input: '--append with the host kernel', args: () => ['run', '--kernel', 'host', '--append', 'oops=panic'], exit: 2, says: ['--append sets guest kernel parameters, and --kernel host boots no guest'] },
  { input: 'a bad --timeout', args: () => ['run', '--timeout', 'soon'], exit: 2, says: ['--timeout soon is not a duration', 'e.g. --timeout 30m'] },
  { input: 'a bad --tcg-slowdown', args: () => ['run', '--tcg-slowdown', '0.5'], exit: 2, says: ['--tcg-slowdown 0.5 is not a factor between 1 and 100'] },
];

t.test('bad input: the right exit code and one paragraph naming the input and the fix', async (t) => {
  await makePackage(join(scratch, 'whole.deb'));
  for (const row of rows) {
    const run = await execa('node', [cli, ...row.args()], { cwd: root, reject: false, env: { CI: 'true', ...(row.env?.() ?? {}) }, extendEnv: true });
    t.equal(run.exitCode, row.exit, `${row.input}: exit ${row.exit}\n${run.stderr}`);
    const message = run.stderr.trim();
    for (const text of row.says) t.match(message, text, `${row.input}: says ${String(text)}`);
    t.match(message, /^faultline: /, `${row.input}: starts with faultline:`);
    t.notMatch(message, /\n\s+at |internal error/, `${row.input}: no stack trace`);
    t.notMatch(message, /\n\s*\n/, `${row.input}: one paragraph`);
    if (row.marks) {
      const doc = JSON.parse(readFileSync(join(scratch, row.marks.dir, 'run.json'), 'utf8')) as RunDocument;
      t.equal(doc.exitCode, row.exit, `${row.input}: run.json has the exit code`);
      t.ok(doc.results.length > 0 && doc.results.every((r) => r.status === 'error' && row.marks!.reason.test(r.reason ?? '')), `${row.input}: every planned case is an error with the reason`);
    }
  }
});

t.test('a kernel package file runs like debian:<package>', async (t) => {
  const deb = join(scratch, 'whole.deb');
  const dir = join(scratch, 'deb-run');
  const run = await execa('node', [cli, 'run', '--kernel', deb, '--case', 'read-minor-continue-shmem', '--results', dir], { cwd: root, reject: false, env: { CI: 'true' } });
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  const doc = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunDocument;
  t.same(doc.results.map((r) => `${r.case} ${r.status}`), ['read-minor-continue-shmem pass']);
  t.match(doc.kernels[0], { release: /^6\.1\.0-\d+-cloud-amd64$/ });
});

/** A real (minimal) kernel package: the default kernel's vmlinuz and config, packed by dpkg-deb. */
async function makePackage(deb: string): Promise<void> {
  if (existsSync(deb)) return;
  const release = /^linux-image-(.*)$/.exec(await defaultKernelPackage())![1]!;
  const tree = join(scratch, 'deb-tree');
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  mkdirSync(join(tree, 'boot'), { recursive: true });
  copyFileSync(kernel, join(tree, 'boot', `vmlinuz-${release}`));
  copyFileSync(join(kernel, '..', 'config'), join(tree, 'boot', `config-${release}`));
  writeFileSync(join(tree, 'DEBIAN', 'control'), `Package: linux-image-${release}\nVersion: 1\nArchitecture: amd64\nMaintainer: faultline tests <tests@faultline.invalid>\nDescription: kernel image for faultline's package tests\n`);
  chmodSync(join(tree, 'DEBIAN'), 0o755);
  // Clamped mtimes make the package the same bytes every time, so the cache keeps one copy.
  await execa('dpkg-deb', ['--build', '--root-owner-group', tree, deb], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
}
