import { execa } from 'execa';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { defaultKernelPackage } from '../kernels/default.js';
import { defaultKernel } from './fixtures/host.js';
import { assertRunValid } from './fixtures/run-schema.js';

// The robustness issues as a table: each bad input gets its exit code and its exact paragraph
// (where, what, the fix), never a stack trace, and leaves nothing it should not. The CLI is the
// built one, run as a user runs it, against a real kernel and real tools (taken off PATH to be
// "missing"). Inputs that must simply work are checked after the table.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-bad-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const suites = join(root, 'test', 'fixtures', 'suites');
const suite = (name: string) => join(suites, `${name}.yaml`);
const suiteHint = '  Fix the suite file; suites/README.md describes every key.';
/** The whole message for a malformed suite fixture, from its .errors file. */
const suiteErrors = (name: string) => {
  const lines = readFileSync(join(suites, `${name}.errors`), 'utf8').trimEnd().split('\n');
  return [`faultline: ${suite(name)} has ${lines.length === 1 ? 'an error' : `${lines.length} errors`}:`, ...lines.map((l) => `  ${l.replace('FILE', suite(name))}`), suiteHint].join('\n');
};
const kernelHint = '  give the path of a bzImage (arch/x86/boot/bzImage or /boot/vmlinuz-*), a linux-image-*.deb, debian:<package>, or host';

let kernel = '';
t.before(async () => {
  kernel = (await defaultKernel()).image!;
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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
  /** Run from here (default: the project); a run's default results/<stamp> goes under it. */
  cwd?: () => string;
  exit: number;
  /** Standard error, whole; a pattern (anchored) only where another tool's words are quoted. */
  says: () => string | RegExp;
  /** Where the run got as far as planning cases: run.json marks every one `error` with this reason. */
  marks?: { dir: string; reason: RegExp };
  /** A directory the input must not leave behind. */
  leaves?: () => string;
}

const results = (name: string) => ['--results', join(scratch, name)];
/** A fresh working directory, so a default results/<stamp> would show. */
const freshCwd = (name: string) => () => {
  mkdirSync(join(scratch, name), { recursive: true });
  return join(scratch, name);
};
const suiteRow = (input: string, name: string): Row => ({
  input,
  args: () => ['run', '--kernel', 'host', '--suite', suite(name)],
  cwd: freshCwd(`cwd-${name}`),
  exit: 2,
  says: () => suiteErrors(name),
  leaves: () => join(scratch, `cwd-${name}`, 'results'),
});

const rows: Row[] = [
  suiteRow('malformed YAML', 'bad-yaml-syntax'),
  suiteRow('an unknown key', 'bad-unknown-suite-key'),
  suiteRow('a wrong type', 'bad-wrong-type'),
  suiteRow('duplicate case names', 'bad-duplicate-case'),
  suiteRow('an alias to an anchor that is not there', 'bad-alias-undefined'),
  suiteRow('an alias bomb', 'bad-alias-bomb'),
  suiteRow('a second YAML document', 'bad-multi-document'),
  suiteRow('a suite file with nothing in it', 'bad-empty'),
  suiteRow('a list as a key', 'bad-complex-key'),
  suiteRow('an unquoted release (needs: { kernel: 6.10 })', 'bad-kernel-number'),
  suiteRow('a suite timeout of 0', 'bad-suite-timeout'),
  suiteRow('values the helper refuses (0ms, 61m, a long sleep, a long name, an unknown errno, a huge byte count)', 'bad-helper-ranges'),
  suiteRow('a thread started and never joined', 'bad-unjoined-thread'),
  {
    input: 'a 50 MB suite',
    args: () => {
      const big = join(scratch, 'big.yaml');
      writeFileSync(big, `cases:\n${'# padding padding padding padding padding padding padding padding padding\n'.repeat(700_000)}`);
      return ['list', '--suite', big];
    },
    exit: 2,
    says: () => {
      const big = join(scratch, 'big.yaml');
      return `faultline: suite ${big} is ${(statSync(big).size / (1 << 20)).toFixed(1)} MiB; a suite may be at most 1 MiB\n  Check that this is the suite you meant; split a larger one into several files.`;
    },
  },
  {
    input: 'a suite file that does not exist',
    args: () => ['run', '--suite', join(scratch, 'nope.yaml'), ...results('r5')],
    exit: 2,
    says: () => `faultline: cannot read suite ${join(scratch, 'nope.yaml')}: ENOENT (no such file or directory)\n  Pass an existing YAML file with --suite, or run \`faultline list\` to see the shipped suites.`,
    leaves: () => join(scratch, 'r5'),
  },
  {
    input: 'a malformed kernel definition',
    args: () => {
      const def = join(scratch, 'kernels', 'broken.yaml');
      mkdirSync(join(scratch, 'kernels'), { recursive: true });
      writeFileSync(def, 'tree: ../linux\npatchs: [series.mbox]\n');
      return ['run', '--kernel', def];
    },
    exit: 2,
    says: () => {
      const def = join(scratch, 'kernels', 'broken.yaml');
      return `faultline: ${def} has an error:\n  ${def}:2:1: patchs: unknown key "patchs" (allowed: description, tree, patches, base, config, image, build-image)\n  Fix the kernel definition; the README ("Patched kernels from source") describes its keys: tree, patches, base, config, image, build-image, description.`;
    },
  },
  {
    input: 'a kernel path that does not exist',
    args: () => ['run', '--kernel', join(scratch, 'no-bzImage'), ...results('r6')],
    exit: 3,
    says: () => `faultline: kernel file ${join(scratch, 'no-bzImage')} does not exist\n${kernelHint}`,
    leaves: () => join(scratch, 'r6'),
  },
  { input: '--kernel /dev/null', args: () => ['run', '--kernel', '/dev/null'], exit: 3, says: () => `faultline: kernel file /dev/null is not a regular file (a character device)\n${kernelHint}` },
  {
    input: '--kernel of a directory',
    args: () => ['run', '--kernel', scratch],
    exit: 3,
    says: () => `faultline: kernel file ${scratch} is a directory\n  give the kernel inside it, e.g. ${join(scratch, 'arch/x86/boot/bzImage')}; to build a source tree use --tree ${scratch}`,
  },
  {
    input: 'a file that is not a kernel',
    args: () => ['run', '--kernel', join(root, 'package.json'), ...results('r7')],
    exit: 3,
    says: () => `faultline: ${join(root, 'package.json')} is not a bzImage (no "HdrS" boot header)\n  give arch/x86/boot/bzImage, not vmlinux or a compressed module; or use debian:<package> or host`,
  },
  {
    input: 'a truncated bzImage',
    args: () => {
      const cut = join(scratch, 'cut-bzImage');
      writeFileSync(cut, readFileSync(kernel).subarray(0, 1 << 20));
      return ['run', '--kernel', cut, ...results('r8')];
    },
    exit: 3,
    says: () => {
      const header = readFileSync(kernel);
      const expected = (header.readUInt8(0x1f1) + 1) * 512 + header.readUInt32LE(0x1f4) * 16;
      return `faultline: ${join(scratch, 'cut-bzImage')} is truncated: its boot header describes ${expected} bytes, the file has 1048576\n  copy or download the kernel again (or rebuild it: make bzImage)`;
    },
  },
  {
    input: 'a corrupt kernel package',
    args: () => {
      const deb = join(scratch, 'linux-image-garbage.deb');
      writeFileSync(deb, randomBytes(4096));
      return ['run', '--kernel', deb, ...results('r9')];
    },
    exit: 3,
    says: () => {
      const deb = join(scratch, 'linux-image-garbage.deb');
      return new RegExp(`^faultline: ${escape(deb)} is not a readable Debian package: dpkg-deb: error: .+\\n  the file is probably truncated or corrupt: download it again \\(apt-get download linux-image-<release>\\)$`);
    },
  },
  {
    input: 'a truncated kernel package',
    args: () => {
      const deb = join(scratch, 'truncated.deb');
      writeFileSync(deb, readFileSync(join(scratch, 'whole.deb')).subarray(0, 300_000));
      return ['run', '--kernel', deb, ...results('r10')];
    },
    exit: 3,
    says: () => {
      const deb = join(scratch, 'truncated.deb');
      return new RegExp(`^faultline: ${escape(deb)} is not a readable Debian package: dpkg-deb: error: .+\\n  the file is probably truncated or corrupt: download it again \\(apt-get download linux-image-<release>\\)$`);
    },
  },
  {
    input: 'QEMU missing',
    args: () => ['run', '--case', 'read-minor-continue-shmem', ...results('r11')],
    env: () => ({ PATH: pathWithout('qemu-system-x86_64') }),
    exit: 3,
    says: () => 'faultline: qemu-system-x86_64 not found\n  apt-get install qemu-system-x86',
    marks: { dir: 'r11', reason: /^no result: qemu-system-x86_64 not found$/ },
  },
  {
    input: 'gcc missing',
    args: () => ['run', '--case', 'read-minor-continue-shmem', ...results('r12')],
    env: () => ({ PATH: pathWithout('gcc') }),
    exit: 3,
    says: () => 'faultline: cannot run gcc: ENOENT\n  apt-get install gcc libc6-dev',
  },
  {
    input: 'busybox missing',
    args: () => ['run', '--case', 'read-minor-continue-shmem', ...results('r13')],
    env: () => ({ PATH: pathWithout('busybox') }),
    exit: 3,
    says: () => 'faultline: busybox not found\n  apt-get install busybox-static',
    marks: { dir: 'r13', reason: /^no result: busybox not found$/ },
  },
  {
    input: 'a results directory under a file',
    args: () => ['run', '--kernel', 'host', '--results', join(root, 'package.json', 'results')],
    exit: 3,
    says: () => `faultline: cannot write results to ${join(root, 'package.json', 'results')}: ENOTDIR (not a directory)\n  Choose a writable directory with --results DIR.`,
  },
  {
    input: '--results under /proc/sys (Node\'s own mkdir never returns there)',
    args: () => ['run', '--kernel', 'host', '--results', '/proc/sys/faultline-results'],
    exit: 3,
    says: () => 'faultline: cannot write results to /proc/sys/faultline-results: ENOENT (no such file or directory)\n  Choose a writable directory with --results DIR.',
  },
  {
    input: 'a results directory that already holds a run',
    args: () => {
      mkdirSync(join(scratch, 'used'));
      writeFileSync(join(scratch, 'used', 'run.json'), '{}\n');
      writeFileSync(join(scratch, 'used', 'console.log'), 'an earlier run\n');
      return ['run', '--kernel', 'host', '--results', join(scratch, 'used')];
    },
    exit: 2,
    says: () => `faultline: --results ${join(scratch, 'used')} already holds files (console.log, run.json): faultline keeps one run per directory\n  Give a new or empty directory, or leave out --results for a fresh results/<stamp>.`,
  },
  {
    input: 'a cache path that is a file',
    args: () => ['run', '--kernel', 'host'],
    env: () => ({ FAULTLINE_CACHE: join(root, 'package.json') }),
    exit: 3,
    says: () => `faultline: cannot use the cache directory ${join(root, 'package.json')}: ENOTDIR (not a directory)\n  Set FAULTLINE_CACHE to a directory this user can write (FAULTLINE_CACHE names it).`,
  },
  {
    input: 'a cache directory kbuild cannot build in',
    args: () => ['build', '--tree', join(scratch, 'any-tree')],
    env: () => ({ FAULTLINE_CACHE: join(scratch, 'cache with space') }),
    exit: 3,
    says: () =>
      `faultline: kbuild cannot build under the cache directory "${join(scratch, 'cache with space')}": its path has a space or a colon\n  set FAULTLINE_CACHE (or XDG_CACHE_HOME) to a directory whose path has neither`,
  },
  { input: '--append with the host kernel', args: () => ['run', '--kernel', 'host', '--append', 'oops=panic'], exit: 2, says: () => 'faultline: --append sets guest kernel parameters, and --kernel host boots no guest\n  Drop --append, or run on a guest kernel.' },
  { input: 'a bad --timeout', args: () => ['run', '--timeout', 'soon'], exit: 2, says: () => 'faultline: --timeout soon is not a duration with a unit (ms, s, m or h)\n  e.g. --timeout 30m, 90s, 2h or 500ms.' },
  { input: '--timeout with no unit', args: () => ['run', '--timeout', '60'], exit: 2, says: () => 'faultline: --timeout 60 is not a duration with a unit (ms, s, m or h)\n  Give it a unit: --timeout 60s or --timeout 60m.' },
  { input: '--timeout 72000m', args: () => ['run', '--timeout', '72000m'], exit: 2, says: () => 'faultline: --timeout 72000m is longer than a week (168h), the longest limit faultline keeps\n  Give at most --timeout 168h, or leave it out for no limit.' },
  { input: 'an unknown case source', args: () => ['run', '--kernel', 'host', '--suite', 'kselftest:vm'], exit: 2, says: () => 'faultline: --suite kselftest:vm: no such case source\n  The case sources are YAML suite files and kselftest:userfaultfd.' },
  {
    input: '--selftests-from without the selftests',
    args: () => ['run', '--kernel', 'host', '--selftests-from', scratch],
    exit: 2,
    says: () => 'faultline: --selftests-from names the selftests of --suite kselftest:userfaultfd, which this run does not have\n  Add --suite kselftest:userfaultfd, or drop --selftests-from.',
  },
  {
    input: '--selftests-from a directory that is no kernel tree',
    args: () => ['run', '--kernel', 'host', '--suite', 'kselftest:userfaultfd', '--selftests-from', scratch],
    exit: 2,
    says: () =>
      `faultline: --selftests-from ${scratch}: ${scratch} is not a Linux tree with userfaultfd selftests (no tools/testing/selftests/vm/userfaultfd.c or mm/uffd-unit-tests.c)\n  Give the top directory of a Linux source tree from 4.11 on, or its tarball (linux-source-6.12.tar.xz).`,
  },
  { input: 'a bad --kselftest-mib', args: () => ['run', '--kernel', 'host', '--kselftest-mib', 'lots'], exit: 2, says: () => 'faultline: --kselftest-mib lots is not a whole number from 1 to 4096\n  e.g. --kselftest-mib 2' },
  { input: 'a bad --tcg-slowdown', args: () => ['run', '--tcg-slowdown', '0.5'], exit: 2, says: () => "faultline: --tcg-slowdown 0.5 is not a factor between 1 and 100\n  e.g. --tcg-slowdown 4; 1 keeps the suites' own limits." },
  {
    input: '--json naming a directory',
    args: () => {
      mkdirSync(join(scratch, 'json-dir'), { recursive: true });
      return ['run', '--kernel', 'host', '--json', join(scratch, 'json-dir'), ...results('r14')];
    },
    exit: 2,
    says: () => `faultline: --json ${join(scratch, 'json-dir')} is a directory\n  Give a file path, e.g. --json ${join(scratch, 'json-dir', 'run.json')}.`,
    leaves: () => join(scratch, 'r14'),
  },
  {
    input: 'a suite timeout that passes on the host but not scaled for TCG (16m x4)',
    args: () => {
      const slow = join(scratch, 'slow.yaml');
      writeFileSync(slow, 'suite: slow\ntimeout: 16m\ncases:\n  - name: a\n    steps:\n      - open: {}\n');
      return ['run', '--suite', slow, '--accel', 'tcg', ...results('r15')];
    },
    exit: 2,
    says: () =>
      `faultline: a case would run past the 60m a case may take under TCG:\n  ${join(scratch, 'slow.yaml')}:4:5: a: its 16m time limit becomes 64m under TCG (x4, --tcg-slowdown), past the 60m a case may take\n  Lower the case's timeout to at most 15m, or the factor with --tcg-slowdown.`,
    marks: { dir: 'r15', reason: /^no result: a case would run past the 60m a case may take under TCG$/ },
  },
];

t.test('bad input: the right exit code and the exact paragraph naming the input and the fix', async (t) => {
  await makePackage(join(scratch, 'whole.deb'));
  for (const row of rows) {
    const run = await execa('node', [cli, ...row.args()], { cwd: row.cwd?.() ?? root, reject: false, env: { CI: 'true', ...(row.env?.() ?? {}) }, extendEnv: true });
    t.equal(run.exitCode, row.exit, `${row.input}: exit ${row.exit}`);
    const says = row.says();
    if (typeof says === 'string') t.equal(run.stderr.trim(), says, `${row.input}: says exactly`);
    else t.match(run.stderr.trim(), says, `${row.input}: says exactly`);
    t.notMatch(run.stderr, /\n\s+at |internal error/, `${row.input}: no stack trace`);
    if (row.marks) {
      const doc = assertRunValid(t, join(scratch, row.marks.dir));
      t.equal(doc.exitCode, row.exit, `${row.input}: run.json has the exit code`);
      t.equal(doc.results.length, doc.matrix.cases.length * doc.matrix.kernels.length, `${row.input}: a result for every planned case`);
      t.ok(doc.results.length > 0 && doc.results.every((r) => r.status === 'error' && row.marks!.reason.test(r.reason ?? '')), `${row.input}: every planned case is an error with the reason`);
    }
    if (row.leaves) t.notOk(existsSync(row.leaves()), `${row.input}: leaves no ${row.leaves()}`);
  }
});

t.test('a results directory on a read-only filesystem says so', { skip: process.geteuid?.() === 0 ? false : 'mounting a read-only filesystem needs root' }, async (t) => {
  const ro = join(scratch, 'read-only');
  mkdirSync(ro);
  await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'faultline-test', ro]);
  t.teardown(() => execa('umount', [ro], { reject: false }));
  const run = await execa('node', [cli, 'run', '--kernel', 'host', '--results', join(ro, 'results')], { cwd: root, reject: false, env: { CI: 'true' } });
  t.equal(run.exitCode, 3);
  t.equal(run.stderr.trim(), `faultline: cannot write results to ${join(ro, 'results')}: EROFS (read-only file system)\n  Choose a writable directory with --results DIR.`);
});

// Inputs that broke faultline before and must simply work.
const faultline = (args: string[], cwd = root) => execa('node', [cli, ...args], { cwd, reject: false, env: { CI: 'true' } });
const trivial = join(root, 'bench', 'trivial.yaml');

t.test('--json /dev/stdout writes the document to standard output and leaves /dev/stdout alone', async (t) => {
  const before = readlinkSync('/dev/stdout');
  const run = await faultline(['run', '--kernel', 'host', '--suite', trivial, '--json', '/dev/stdout', ...results('json-stdout')]);
  t.equal(run.exitCode, 0, run.stderr);
  t.ok(lstatSync('/dev/stdout').isSymbolicLink(), '/dev/stdout is still a symlink');
  t.equal(readlinkSync('/dev/stdout'), before);
  const doc = assertRunValid(t, join(scratch, 'json-stdout'));
  t.ok(run.stdout.endsWith(JSON.stringify(doc, null, 2)), 'the document reached stdout, after the progress lines');
});

t.test('--json through a symlink writes the file it points to and keeps the link', async (t) => {
  const target = join(scratch, 'real.json');
  const link = join(scratch, 'link.json');
  writeFileSync(target, 'old\n');
  symlinkSync(target, link);
  const run = await faultline(['run', '--kernel', 'host', '--suite', trivial, '--json', link, ...results('json-link')]);
  t.equal(run.exitCode, 0, run.stderr);
  t.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
  t.same(JSON.parse(readFileSync(target, 'utf8')), assertRunValid(t, join(scratch, 'json-link')));
});

t.test('--json to a FIFO gives its reader the document and leaves the FIFO a FIFO', async (t) => {
  const fifo = join(scratch, 'results.fifo');
  await execa('mkfifo', [fifo]);
  const reader = execa('cat', [fifo]);
  const run = await faultline(['run', '--kernel', 'host', '--suite', trivial, '--json', fifo, ...results('json-fifo')]);
  t.equal(run.exitCode, 0, run.stderr);
  const read = await reader;
  t.same(JSON.parse(read.stdout), assertRunValid(t, join(scratch, 'json-fifo')));
  t.ok(lstatSync(fifo).isFIFO(), 'still a FIFO');
});

t.test('120 cases sharing their steps through one YAML anchor load', async (t) => {
  const list = await faultline(['list', '--suite', suite('shared-steps')]);
  t.equal(list.exitCode, 0, list.stderr);
  t.match(list.stdout, /^shared-steps \(120 cases\)$/m);
});

t.test('one suite named twice is one suite', async (t) => {
  const list = await faultline(['list', '--suite', trivial, '--suite', join(root, 'bench', '..', 'bench', 'trivial.yaml')]);
  t.equal(list.exitCode, 0, list.stderr);
  t.equal(list.stdout.match(/^\S.*\(\d+ cases?\)/gm)?.length, 1);
});

t.test('a case needing more huge pages than a guest can hold skips; the others run', async (t) => {
  const huge = join(scratch, 'huge.yaml');
  writeFileSync(huge, 'suite: huge\ncases:\n  - name: too-many\n    needs: { hugepages: 100000000 }\n    steps:\n      - open: {}\n  - name: fine\n    steps:\n      - open: {}\n');
  const run = await faultline(['run', '--suite', huge, ...results('huge')]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  const doc = assertRunValid(t, join(scratch, 'huge'));
  t.same(doc.results.map((r) => [r.case, r.status, r.reason]), [
    ['too-many', 'skip', 'needs 100000000 free 2 MiB huge pages; a faultline guest reserves at most 1024 (2 GiB)'],
    ['fine', 'pass', null],
  ]);
});

t.test('two runs in the same second get a directory each', async (t) => {
  const cwd = freshCwd('same-second')();
  const [a, b] = await Promise.all([faultline(['run', '--kernel', 'host', '--suite', trivial], cwd), faultline(['run', '--kernel', 'host', '--suite', trivial], cwd)]);
  t.equal(a.exitCode, 0, a.stderr);
  t.equal(b.exitCode, 0, b.stderr);
  const dirs = readdirSync(join(cwd, 'results')).sort();
  t.equal(dirs.length, 2, dirs.join(', '));
  for (const dir of dirs) t.equal(assertRunValid(t, join(cwd, 'results', dir)).results.length, 1, `${dir} holds one run`);
});

t.test('a kernel package file runs like debian:<package>', async (t) => {
  const deb = join(scratch, 'whole.deb');
  const dir = join(scratch, 'deb-run');
  const run = await faultline(['run', '--kernel', deb, '--case', 'read-minor-continue-shmem', '--results', dir]);
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  const doc = assertRunValid(t, dir);
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
