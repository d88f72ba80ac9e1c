import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import type { RunModel } from '../runner/model/types.js';
import { dockerdMissing, startDockerd } from './fixtures/dockerd.js';
import { linuxSource61, linuxSource612, linuxTreeOf } from './fixtures/linux-tree.js';
import { assertRunValid } from './fixtures/run-schema.js';

// Kernels built inside the shipped build image (`--build-image debian-build`) on a private dockerd:
// Debian's 6.1 and 6.12 trees, tinyconfig + the shipped fragment, booted under the default suites
// (6.12 with its own selftests, built in the image too). Cold, each tree is one full build in the
// image (about 3 min each on 2 idle cores; the 6.1 host build is shared with the source tests) and
// the image one debootstrap (H2's recipe, cached); warm (kernels and the image's tarball in the
// cache) the file takes about 80 s: the image's import (4 s), three boots, and make failing
// early on the broken patch, on the host and in the image.
const missing = dockerdMissing() ?? linuxSource61.missing ?? linuxSource612.missing;
const heavy = { skip: missing ?? false };

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-container-build-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree61 = missing ? '' : await linuxTreeOf(linuxSource61, cacheDir());
const tree612 = missing ? '' : await linuxTreeOf(linuxSource612, cacheDir());
const dockerd = missing ? null : await startDockerd(t);
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { ...(dockerd?.env ?? process.env), CI: 'true' } });
const statusOf = (doc: RunModel, kernel: string) => doc.results.filter((r) => r.kernel === kernel).map((r) => `${r.suite}/${r.case} ${r.status}`).sort();
const ownedContainers = async () => (await dockerd!.docker.listContainers({ all: true, filters: { label: ['org.faultline.owner'] } })).map((c) => `${c.Image} ${c.Command}`);

t.test('a build image that is no image, or with nothing to build, is a usage error before anything runs', async (t) => {
  const bad = await faultline(['build', '--tree', join(scratch, 'no-tree'), '--build-image', 'gcc-13']);
  t.equal(bad.exitCode, 2, bad.stderr);
  t.match(bad.stderr, /^faultline: --build-image "gcc-13": it is not an image faultline knows/m);
  const definition = join(scratch, 'bad.yaml');
  writeFileSync(definition, 'tree: /nowhere\nbuild-image: "docker:"\n');
  const inFile = await faultline(['run', '--kernel', definition, '--results', join(scratch, 'bad')]);
  t.equal(inFile.exitCode, 2, inFile.stderr);
  t.match(inFile.stderr, `faultline: ${definition}: build-image "docker:": docker: names nothing`);
  const none = await faultline(['run', '--kernel', 'host', '--build-image', 'debian-build', '--results', join(scratch, 'none')]);
  t.equal(none.exitCode, 2, none.stderr);
  t.match(none.stderr, /--build-image debian-build is where kernels are built from source, and this command builds none/);
});

t.test('6.1 built in debian-build boots and gives the host build its results; two cache entries, the second build cached', heavy, async (t) => {
  // The image build as a kernel definition's key, the host build of the same tree as the candidate.
  const definition = join(scratch, 'in-image.yaml');
  writeFileSync(definition, `tree: ${tree61}\nbuild-image: debian-build\n`);
  const dir = join(scratch, 'same');
  const run = await faultline(['run', '--tree', tree61, '--baseline', definition, '--expect', 'suites/expect/known-failures.yaml', '--results', dir]);
  if (!t.equal(run.exitCode, 0, 'exit 0: nothing differs')) t.comment(run.stdout + run.stderr);
  const doc = assertRunValid(t, dir);
  const [image, host] = doc.kernels;
  t.match(image, { label: 'in-image', role: 'baseline', release: /^6\.1\./, tree: { buildEnv: { kind: 'image', name: 'debian-build', id: /^sha256:/ } } });
  t.match(host, { label: 'linux-source-6.1', role: 'candidate', tree: { buildEnv: { kind: 'host', compiler: /^gcc/ } } });
  t.not(image!.tree!.buildKey, host!.tree!.buildKey, 'the same tree on the host and in the image: two cache entries');
  t.equal(image!.tree!.configSha256, host!.tree!.configSha256, 'with the same .config');
  t.ok(doc.results.length > 0);
  t.same(statusOf(doc, image!.id), statusOf(doc, host!.id), 'every case ends the same on both');
  for (const r of doc.results.filter((r) => !r.expected)) t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.suite}/${r.case} on ${r.kernel}: ${r.status} ${r.reason ?? ''}`);
  const counts = Object.entries(doc.comparisons[0]!.counts).filter(([cls, n]) => n > 0 && cls !== 'unchanged');
  t.same(counts, [], 'the comparison finds no difference');

  const again = await faultline(['build', '--tree', tree61, '--build-image', 'debian-build']);
  t.equal(again.exitCode, 0, again.stderr);
  t.equal(again.stdout.trim(), join(cacheDir(), 'kernels', 'source', image!.tree!.buildKey, 'bzImage'), 'the same kernel');
  t.match(again.stderr, /^kernel .*\(cached\)/m, 'cached');
  t.notMatch(again.stderr, /^kernel (copy|patch|config|compile|headers)\b/m, 'no make ran');
});

t.test('a patch that breaks the build: Ctrl-C stops and removes the container; to the end, the compiler error is the host\'s, exit 3', heavy, async (t) => {
  const broken = join(scratch, '0001-break-the-build.patch');
  writeFileSync(broken, breakingPatch(readFileSync(join(tree61, 'mm', 'userfaultfd.c'), 'utf8')));
  const onHost = await faultline(['build', '--tree', tree61, '--patches', broken]);
  t.equal(onHost.exitCode, 3, onHost.stderr);
  const hostError = firstParagraph(onHost.stderr);
  t.match(hostError, /^the kernel does not build: mm\/userfaultfd\.c:\d+:\d+: error: /, hostError);

  // Ctrl-C as soon as the engine runs `make bzImage` in a container
  const child = spawn('node', [cli, 'build', '--tree', tree61, '--patches', broken, '--build-image', 'debian-build'], { cwd: root, env: { ...dockerd!.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  let running = false;
  while (!running && child.exitCode === null) {
    const containers = await dockerd!.docker.listContainers({ filters: { label: ['org.faultline.owner'], status: ['running'] } });
    running = containers.some((c) => c.Command.includes('bzImage'));
    if (running) child.kill('SIGINT');
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const code = await exited;
  t.ok(running, 'make was running in a container');
  t.equal(code, 130, `stopped by Ctrl-C: ${stderr}`);
  t.same(await ownedContainers(), [], 'no container of faultline is left');

  const inImage = await faultline(['build', '--tree', tree61, '--patches', broken, '--build-image', 'debian-build']);
  t.equal(inImage.exitCode, 3, inImage.stderr);
  t.equal(firstParagraph(inImage.stderr), hostError, 'the same first compiler error as on the host');
  t.same(await ownedContainers(), [], 'and no container left after the failure');
});

t.test('6.12 builds in debian-build, boots and passes the default suites and its own selftests (built in the image)', heavy, async (t) => {
  const dir = join(scratch, 'newest');
  const run = await faultline(['run', '--tree', tree612, '--build-image', 'debian-build', '--suite', 'suites/minor-faults.yaml', '--suite', 'suites/missing-faults.yaml', '--suite', 'kselftest:userfaultfd', '--results', dir]);
  if (!t.equal(run.exitCode, 0, 'exit 0')) t.comment(run.stdout + run.stderr);
  const doc = assertRunValid(t, dir);
  t.match(doc.kernels[0], { label: 'linux-source-6.12', release: /^6\.12\./, tree: { buildEnv: { kind: 'image', name: 'debian-build' } } });
  for (const r of doc.results) t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.suite}/${r.case}: ${r.status} ${r.reason ?? ''}`);
  t.ok(doc.results.filter((r) => r.suite === 'kselftest-userfaultfd' && r.status === 'pass').length >= 40, 'its selftests pass');
});

// A syntax error in mm/userfaultfd.c, after its includes.
function breakingPatch(source: string): string {
  const lines = source.split('\n');
  const at = lines.findIndex((l) => l.startsWith('#include <linux/mm.h>'));
  const context = lines.slice(at, at + 3);
  return [
    'From: faultline tests <tests@faultline.invalid>',
    'Subject: [PATCH] break the build',
    '',
    '---',
    '--- a/mm/userfaultfd.c',
    '+++ b/mm/userfaultfd.c',
    `@@ -${at + 1},3 +${at + 1},4 @@`,
    ` ${context[0]}`,
    '+int faultline_broken = ;',
    ...context.slice(1).map((l) => ` ${l}`),
    '',
  ].join('\n');
}

/** faultline's error, without where it is (each build has its own log). */
function firstParagraph(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.startsWith('faultline: ')) ?? stderr;
  return line.replace(/^faultline: \S+\.log: /, '');
}
