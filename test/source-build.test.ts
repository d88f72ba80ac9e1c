import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { rejectsExactly } from './fixtures/errors.js';
import { cacheDir as defaultCacheDir } from '../runner/core/paths.js';
import { buildSourceKernel, type BuildProgress, type SourceKernelRequest } from '../kernels/source/build.js';
import { compiledObjects } from '../kernels/source/progress.js';
import type { Patch } from '../kernels/source/patches.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';

// Builds real kernels from Debian's linux-source-6.1 (the tarball its linux-source-6.1 package
// installs), unpacked once into the cache and reused across runs, like the kernels built from it.
const skip = linuxSourceMissing !== null;
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = defaultCacheDir();
const fragment = join(root, 'kernels', 'configs', 'faultline.config');
const tree = skip ? '' : await linuxTree(cacheDir);
const marker = join(cacheDir, 'test-trees', `.started-${process.pid}`);
if (!skip) {
  await writeFile(marker, '');
  t.teardown(() => rm(marker, { force: true }));
}
const userfaultfdHash = skip ? '' : sha(await readFile(join(tree, 'mm', 'userfaultfd.c')));

const request = (patches: Patch[]): SourceKernelRequest => ({ tree, patches, base: 'tinyconfig', fragments: [fragment] });
const build = async (patches: Patch[], signal?: AbortSignal) => {
  const events: BuildProgress[] = [];
  const started = performance.now();
  const kernel = await buildSourceKernel(request(patches), { cacheDir, onProgress: (p) => events.push(p), ...(signal ? { signal } : {}) });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const cc = events.filter((e) => e.step === 'compile' && e.action === 'CC').map((e) => e.detail);
  t.comment(`${kernel.cached ? 'cached' : 'built'} ${kernel.key} in ${seconds} s, ${cc.length} CC lines`);
  return { kernel, events, cc };
};

// A one-line comment in mm/userfaultfd.c, different on every run so the build is never cached.
const commentPatch = async (tag: string): Promise<Patch> => {
  const text = await readFile(join(tree, 'mm', 'userfaultfd.c'), 'utf8');
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith('#include <linux/mm.h>'));
  const context = lines.slice(at, at + 3);
  const body = [
    `--- a/mm/userfaultfd.c`,
    `+++ b/mm/userfaultfd.c`,
    `@@ -${at + 1},3 +${at + 1},4 @@`,
    ...context.slice(0, 1).map((l) => ` ${l}`),
    `+/* faultline test ${tag} */`,
    ...context.slice(1).map((l) => ` ${l}`),
    '',
  ].join('\n');
  return { name: `0001-comment-${tag}.patch`, origin: `generated:${tag}`, text: body };
};

if (!skip) t.test('tinyconfig + the guest fragment builds a bootable kernel with headers', async (t) => {
  const { kernel } = await build([]);
  t.ok((await stat(kernel.image)).size > 500_000, 'bzImage is there');
  t.match(kernel.release, /^6\.1\./);
  t.ok(existsSync(join(kernel.headersDir, 'linux', 'userfaultfd.h')), 'headers have linux/userfaultfd.h');
  t.equal(kernel.config.get('CONFIG_USERFAULTFD'), 'y');
  t.equal(kernel.config.get('CONFIG_SERIAL_8250_CONSOLE'), 'y');
  t.match(await readFile(kernel.logPath, 'utf8'), /\$ make .* bzImage\n/);

  // the same inputs again: nothing is built, make does not run
  const objConfig = await stat(join(kernel.objDir, '.config'));
  const again = await build([]);
  t.equal(again.kernel.cached, true);
  t.same(again.kernel, { ...kernel, cached: true, compiled: 0 });
  t.same(again.events, [], 'no progress at all: no copy, patch, config or make');
  t.equal((await stat(join(kernel.objDir, '.config'))).mtimeMs, objConfig.mtimeMs, 'the object tree was not touched');
});

if (!skip) t.test('a one-line patch to mm/userfaultfd.c rebuilds incrementally', async (t) => {
  const base = await build([]);
  const baseImage = sha(await readFile(base.kernel.image));
  const full = compiledObjects(await readFile(base.kernel.logPath, 'utf8')).length;
  const patch = await commentPatch(randomUUID().slice(0, 8));
  const { kernel, events, cc } = await build([patch]);
  t.teardown(() => rm(join(cacheDir, 'kernels', 'source', kernel.key), { recursive: true, force: true }));
  t.equal(kernel.cached, false);
  t.equal(kernel.objDir, base.kernel.objDir, 'the object tree is reused');
  t.ok(cc.includes('mm/userfaultfd.o'), 'mm/userfaultfd.o is recompiled');
  t.ok(cc.length <= 10, `only a handful of C files compiled: ${cc.join(' ')}`);
  t.equal(kernel.compiled, cc.length);
  // The base log is a full build's only when this run built the base; otherwise say so.
  if (full > 300) t.ok(cc.length * 20 < full, `far fewer than the first build's ${full}`);
  else t.comment(`the base kernel's log holds ${full} compiled objects (not a full build): ratio not checked`);
  t.same(
    events.filter((e) => e.step === 'patch'),
    [{ step: 'patch', detail: `1/1 ${patch.name}` }],
  );
  t.notOk(events.some((e) => e.step === 'copy'), 'the scratch copy is reused');
  t.match(kernel.release, /^6\.1\./);
  t.ok(existsSync(join(kernel.headersDir, 'linux', 'userfaultfd.h')));
  // the earlier kernel is still in the cache, untouched by the reuse of the object tree
  const cached = await build([]);
  t.equal(cached.kernel.cached, true);
  t.equal(sha(await readFile(cached.kernel.image)), baseImage, 'the earlier kernel is byte for byte the same');
  t.not(sha(await readFile(cached.kernel.image)), sha(await readFile(kernel.image)), 'the two kernels differ (build number)');
});

if (!skip) t.test('an aborted build leaves no make or compiler running', async (t) => {
  const controller = new AbortController();
  const patch = await commentPatch(`abort-${randomUUID().slice(0, 8)}`);
  const events: BuildProgress[] = [];
  const result = buildSourceKernel(request([patch]), {
    cacheDir,
    signal: controller.signal,
    onProgress: (p) => {
      events.push(p);
      if (p.step === 'compile' && p.action === 'CC') controller.abort();
    },
  });
  await t.rejects(result, { name: 'AbortError' });
  t.ok(events.some((e) => e.step === 'compile' && e.action === 'CC'), 'make was running when aborted');
  // Right away: compilers under O= run in the object tree with relative paths, so their working
  // directory, not their command line, says where they belong.
  t.same(await processesWorkingIn(join(cacheDir, 'kernels', 'source', 'work')), [], 'no make or compiler still works in a scratch tree');
});

if (!skip) t.test('a patch that does not apply names the patch, the file and the hunk', async (t) => {
  const lines = (await readFile(join(tree, 'mm', 'userfaultfd.c'), 'utf8')).split('\n');
  const context = lines.slice(99, 106);
  const text = [
    'diff --git a/mm/userfaultfd.c b/mm/userfaultfd.c',
    '--- a/mm/userfaultfd.c',
    '+++ b/mm/userfaultfd.c',
    '@@ -100,7 +100,7 @@',
    ...context.slice(0, 3).map((l) => ` ${l}`),
    `-${context[3]} /* not in this tree */`,
    `+${context[3]}`,
    ...context.slice(4).map((l) => ` ${l}`),
    '',
  ].join('\n');
  const patch: Patch = { name: '0001-written-for-another-tree.patch', origin: '/series/0001-written-for-another-tree.patch', text };
  await rejectsExactly(t, buildSourceKernel(request([patch]), { cacheDir }), {
    kind: 'build',
    exitCode: 3,
    message: 'patch 1/1 0001-written-for-another-tree.patch does not apply: mm/userfaultfd.c: hunk #1 (@@ -100,7 +100,7 @@) does not match the tree',
    where: '/series/0001-written-for-another-tree.patch',
  });
});

if (!skip) t.test("the user's tree is never modified", async (t) => {
  t.equal(sha(await readFile(join(tree, 'mm', 'userfaultfd.c'))), userfaultfdHash);
  const newer = await execa('find', [tree, '-newer', marker, '-print', '-quit']);
  t.equal(newer.stdout, '', 'no file in the tree changed during the test');
  t.notOk(existsSync(join(tree, '.config')) || existsSync(join(tree, 'include', 'config')), 'no build output in the tree');
});

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function processesWorkingIn(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cwd.startsWith(dir) || cmdline.includes(dir)) found.push(`${pid} in ${cwd}: ${cmdline.replace(/\0/g, ' ')}`);
  }
  return found;
}
