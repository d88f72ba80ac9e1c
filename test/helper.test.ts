import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { FaultlineError } from '../runner/core/errors.js';
import { buildHelper } from '../runner/helper/build.js';
import { compileSuites } from '../runner/suite/compile.js';
import { loadSuite } from '../runner/suite/load.js';

// Builds the native helper and runs the hand-written plans under test/fixtures/plans on this
// host (root, a kernel with userfaultfd), asserting the TAP it prints.
const root = fileURLToPath(new URL('..', import.meta.url));
const sourceDir = join(root, 'suites', 'native');
const plan = (name: string) => join(root, 'test', 'fixtures', 'plans', name);
const cacheDir = t.testdir({});

const built = await buildHelper({ headersDir: null, cacheDir, sourceDir });
const run = (file: string) => execa(built.path, ['run', file], { reject: false });

t.test('builds once, then reuses the cached binary', async (t) => {
  t.equal(built.cached, false);
  t.match(built.path, join(cacheDir, 'helpers', built.hash, 'faultline-helper'));
  t.match(built.compiler, /^gcc /);
  const again = await buildHelper({ headersDir: null, cacheDir, sourceDir });
  t.same(again, { ...built, cached: true });
});

t.test('probe reports the kernel and its features', async (t) => {
  const { stdout } = await execa(built.path, ['probe']);
  t.match(stdout, /^kernel=\S+ features=0x[0-9a-f]+ uffd=ok$/);
});

t.test('passing cases print ok with a time', async (t) => {
  const r = await run(plan('pass.plan'));
  t.equal(r.exitCode, 0, r.stdout);
  t.match(r.stdout, /^TAP version 14\n# Subtest: fixture-pass\n {4}1\.\.2\n/);
  t.match(r.stdout, /\n {4}ok 1 - shmem-read-minor-continue # time=\d+ms\n {4}ok 2 - anon-missing-copy # time=\d+ms\nok 1 - fixture-pass\n1\.\.1$/);
});

t.test('a wrong expectation fails with the exact reason', async (t) => {
  const r = await run(plan('wrong.plan'));
  t.equal(r.exitCode, 1);
  t.match(r.stdout, /\n {4}not ok 1 - continue-wrong-errno # time=\d+ms\n {6}---\n {6}status: fail\n/);
  t.ok(r.stdout.includes('      reason: "line 46: ioctl CONTINUE: expected errno EEXIST, got success (mapped=4096)"\n      line: 46\n      ...\n'), r.stdout);
  t.match(r.stdout, /\nnot ok 1 - fixture-wrong\n/);
});

t.test('unmet needs skip with the reason and the fix', async (t) => {
  const r = await run(plan('skip.plan'));
  t.equal(r.exitCode, 0);
  t.match(r.stdout, /\n {4}ok 1 - needs-future-kernel # SKIP needs kernel 99\.0 or newer \(running \S+\)\n/);
  t.match(r.stdout, /\n {4}ok 2 - needs-hugepages # SKIP needs 100000 free 2 MiB huge pages \(sysctl vm\.nr_hugepages=\d+\)\n/);
});

t.test('mremap and munmap steps: REMAP and UNMAP checked against what they did, exact reasons otherwise', async (t) => {
  const r = await run(plan('remap.plan'));
  t.equal(r.exitCode, 1, r.stdout);
  t.match(r.stdout, /\n {4}ok 1 - remap-then-unmap # time=\d+ms\n/);
  t.ok(r.stdout.includes('      reason: "line 34: event: expected UNMAP [page 1, page 4), got UNMAP [page 1, page 3)"\n'), r.stdout);
  t.ok(r.stdout.includes('      reason: "line 43: mremap: expected errno EINVAL, got success"\n'), r.stdout);
});

t.test('a case that outlives its timeout is killed and names its step', async (t) => {
  const r = await run(plan('timeout.plan'));
  t.equal(r.exitCode, 1);
  t.match(r.stdout, /not ok 1 - unresolved-fault # time=\d+ms\n {6}---\n {6}status: timeout\n {6}reason: "line 11: join: timed out after 300ms"\n/);
});

t.test('a case process killed by a signal is a crash', async (t) => {
  const r = await run(plan('crash.plan'));
  t.equal(r.exitCode, 1);
  t.match(r.stdout, /not ok 1 - segfault # time=\d+ms\n {6}---\n {6}status: crash\n {6}reason: "line 6: raise: case process killed by SIGSEGV/);
  t.match(r.stdout, /not ok 2 - sigbus-on-main-thread # time=\d+ms\n {6}---\n {6}status: crash\n {6}reason: "line 12: fill: case process killed by SIGBUS/);
});

t.test('a child process acts, reports back and is joined; its failures name the step', async (t) => {
  const r = await run(plan('fork.plan'));
  t.equal(r.exitCode, 1);
  t.match(r.stdout, /\n {4}ok 1 - minor-through-child-uffd # time=\d+ms\n {4}ok 2 - wp-dropped-without-event # time=\d+ms\n/, 'a MINOR fault through the uffd the FORK event handed over; the uffd-wp bit dropped without EVENT_FORK');
  t.ok(r.stdout.includes('      reason: "line 39: child c1: pagemap: expected wp=1, got wp=0 (present=1)"\n      line: 39\n'), 'a check that fails in the child fails its step, naming the child');
  t.ok(r.stdout.includes('      reason: "line 46: raise: child c1 was killed by SIGSEGV"\n      line: 46\n'), 'a child that dies fails the step it was running, naming the signal');
  t.match(r.stdout, /\n {4}ok 5 - child-thread-sigbus # time=\d+ms\n/, "a child's thread takes SIGBUS from the child's own uffd (EVENT_FORK with SIGBUS)");
  t.ok(r.stdout.includes('      reason: "line 61: pagemap: child c1: fork() has not returned after 2000ms (an unread FORK event holds it)"\n'), 'a fork held by its unread FORK event is a failure, not a hang');
});

t.test('a malformed plan exits 2 naming the plan line', async (t) => {
  const r = await run(plan('malformed.plan'));
  t.equal(r.exitCode, 2);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `faultline-helper: malformed plan ${plan('malformed.plan')}: line 6: register: expect_errno: unknown errno 'ENOTANERRNO'`);
});

t.test('a compile error is a build error with the first error line', async (t) => {
  // a userfaultfd.h with none of the UAPI in it, like a tree without `make headers`
  const headersDir = t.testdir({ linux: { 'userfaultfd.h': '/* empty */\n' } });
  const err = await buildHelper({ headersDir, cacheDir, sourceDir }).catch((e: unknown) => e);
  t.ok(err instanceof FaultlineError);
  t.match(err, { kind: 'build', message: /^the native helper does not compile: \S+\.[ch]:\d+:\d+: error: / });
});

t.test('a missing gcc or static libc is a tool error with the apt-get hint', async (t) => {
  const bin = t.testdir({});
  const savedPath = process.env.PATH;
  t.teardown(() => {
    process.env.PATH = savedPath;
  });
  process.env.PATH = join(bin, 'none');
  t.match(await buildHelper({ headersDir: null, cacheDir, sourceDir }).catch((e: unknown) => e), { kind: 'tool', message: 'cannot run gcc: ENOENT', hint: 'apt-get install gcc libc6-dev' });

  // a gcc whose link step cannot find the static C library
  await mkdir(join(bin, 'fake'));
  await writeFile(join(bin, 'fake', 'gcc'), [
    '#!/bin/sh',
    'case "$1" in --version) echo "gcc (fake) 1.0";; -M) echo "-: /usr/include/linux/userfaultfd.h";;',
    '*) echo "/usr/bin/ld: cannot find -lc: No such file or directory" >&2; exit 1;; esac',
  ].join('\n'));
  await chmod(join(bin, 'fake', 'gcc'), 0o755);
  process.env.PATH = join(bin, 'fake');
  t.match(await buildHelper({ headersDir: null, cacheDir, sourceDir }).catch((e: unknown) => e), {
    kind: 'tool',
    message: 'static C library missing: cannot find -lc',
    hint: 'apt-get install gcc libc6-dev',
  });
});

t.test('the shipped suites compile and pass (or skip with a reason) on this host', async (t) => {
  const suites = await Promise.all(['minor-faults.yaml', 'missing-faults.yaml', 'fork-events.yaml', 'remap-events.yaml', 'thp-collapse.yaml'].map((f) => loadSuite(join(root, 'suites', f))));
  const file = join(t.testdir({}), 'suites.plan');
  await writeFile(file, compileSuites(suites));
  const r = await run(file);
  t.equal(r.stderr, '');
  t.equal(r.exitCode, 0, r.stdout);
  t.notMatch(r.stdout, /not ok/);
  for (const skip of r.stdout.split('\n').filter((l) => l.includes('# SKIP'))) t.match(skip, /# SKIP \S.{10,}/);
});
