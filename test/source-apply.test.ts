import { cp, mkdtemp, readFile, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { rejectsExactly } from './fixtures/errors.js';
import { applySeries, findHunk, patchPaths, readScratchState } from '../kernels/source/apply.js';
import { loadPatchSeries, type Patch } from '../kernels/source/patches.js';

// Applies fixture series to a scratch copy of the stand-in tree the way a kernel build does,
// checking what is restored between runs and which mtimes survive.
const fixtures = fileURLToPath(new URL('./fixtures/series/', import.meta.url));
const fx = (p: string) => join(fixtures, p);
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const old = new Date('2020-01-01T00:00:00Z');

// The user's tree and a scratch copy whose files all carry an old mtime, outside any git repository.
async function setup(t: Test) {
  const base = await mkdtemp(join(tmpdir(), 'faultline-apply-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const tree = join(base, 'tree');
  const scratch = join(base, 'scratch');
  const src = join(scratch, 'src');
  await cp(fx('tree'), tree, { recursive: true });
  await cp(fx('tree'), src, { recursive: true });
  for (const f of ['mm/userfaultfd.c', 'fs/userfaultfd.c', 'include/linux/userfaultfd_k.h', 'Makefile']) await utimes(join(src, f), old, old);
  const mtime = async (f: string) => (await stat(join(src, f))).mtimeMs;
  const read = (f: string) => readFile(join(src, f), 'utf8');
  return { tree, scratch, src, mtime, read };
}

const renamePatch: Patch = {
  name: 'rename',
  origin: 'x',
  text: 'diff --git a/fs/userfaultfd.c b/fs/uffd.c\nsimilarity index 100%\nrename from fs/userfaultfd.c\nrename to fs/uffd.c\n',
};

t.test('patch paths come from git apply, both names of a rename included', async (t) => {
  const { src } = await setup(t);
  const [mm, , header] = await loadPatchSeries([fx('v2-series.mbox')], src);
  t.same(await patchPaths(mm!, src), ['mm/userfaultfd.c']);
  t.same(await patchPaths(header!, src), ['include/linux/uffd_new.h']);
  t.same(await patchPaths(renamePatch, src), ['fs/userfaultfd.c', 'fs/uffd.c']);
});

t.test('a series applies, is recorded, and the next series starts from the plain tree', async (t) => {
  const { tree, scratch, src, mtime, read } = await setup(t);
  const series = await loadPatchSeries([fx('v2-series.mbox')], tree);
  const seen: string[] = [];
  const first = await applySeries({ tree, scratch, src, patches: series, onPatch: (p, i) => seen.push(`${i + 1} ${p.name}`) });
  t.same(first, { touched: ['fs/userfaultfd.c', 'include/linux/uffd_new.h', 'mm/userfaultfd.c'], written: ['fs/userfaultfd.c', 'include/linux/uffd_new.h', 'mm/userfaultfd.c'] });
  t.same(seen, [
    '1 [PATCH v2 1/3] mm/userfaultfd: note the minor fault path',
    '2 [PATCH v2 2/3] fs/userfaultfd: change twenty',
    '3 [PATCH v2 3/3] include: add uffd_new.h',
  ]);
  t.match(await read('mm/userfaultfd.c'), /mm_userfaultfd_c_10 = 10; \/\* minor faults \*\//);
  t.match(await read('fs/userfaultfd.c'), /fs_userfaultfd_c_20 = 21;/);
  t.equal(await read('include/linux/uffd_new.h'), '#define UFFD_STANDIN_NEW 2\n');
  t.same(await readScratchState(scratch), { version: 1, touched: first.touched, applied: seen.map((s) => s.slice(2)) });
  const mmPatched = await mtime('mm/userfaultfd.c');
  t.not(mmPatched, old.getTime(), 'a changed file gets a new mtime');
  t.equal(await mtime('include/linux/userfaultfd_k.h'), old.getTime(), 'an untouched file keeps its mtime');

  // series 2: only the mm patch. fs/userfaultfd.c goes back to the tree, the new header goes
  // away, and mm/userfaultfd.c, whose content is the same as before, keeps its mtime.
  const second = await applySeries({ tree, scratch, src, patches: series.slice(0, 1) });
  t.same(second, { touched: ['mm/userfaultfd.c'], written: ['fs/userfaultfd.c', 'include/linux/uffd_new.h'] });
  t.equal(await mtime('mm/userfaultfd.c'), mmPatched, 'same content, same mtime: make rebuilds nothing here');
  t.equal(await read('fs/userfaultfd.c'), await readFile(join(tree, 'fs/userfaultfd.c'), 'utf8'));
  t.not(await mtime('fs/userfaultfd.c'), old.getTime(), 'a restored file is newer than the objects built from the patched one');
  await t.rejects(stat(join(src, 'include/linux/uffd_new.h')), { code: 'ENOENT' });

  // the empty series restores the tree
  await applySeries({ tree, scratch, src, patches: [] });
  t.equal(await read('mm/userfaultfd.c'), await readFile(join(tree, 'mm/userfaultfd.c'), 'utf8'));
  t.same(await readScratchState(scratch), { version: 1, touched: [], applied: [] });
});

t.test('a file whose content ends up the same is not written', async (t) => {
  const { tree, scratch, src, mtime } = await setup(t);
  const [mm, fs] = await loadPatchSeries([fx('v2-series.mbox')], tree);
  t.same((await applySeries({ tree, scratch, src, patches: [fs!] })).written, ['fs/userfaultfd.c']);
  const fsPatched = await mtime('fs/userfaultfd.c');
  t.same((await applySeries({ tree, scratch, src, patches: [mm!, fs!] })).written, ['mm/userfaultfd.c']);
  t.equal(await mtime('fs/userfaultfd.c'), fsPatched);
  t.not(await mtime('mm/userfaultfd.c'), old.getTime());
});

t.test('a renamed file is touched on both sides', async (t) => {
  const { tree, scratch, src } = await setup(t);
  t.same(await applySeries({ tree, scratch, src, patches: [renamePatch] }), { touched: ['fs/uffd.c', 'fs/userfaultfd.c'], written: ['fs/uffd.c', 'fs/userfaultfd.c'] });
  await t.rejects(stat(join(src, 'fs/userfaultfd.c')), { code: 'ENOENT' });
  t.same((await applySeries({ tree, scratch, src, patches: [] })).written, ['fs/uffd.c', 'fs/userfaultfd.c']);
  t.ok((await stat(join(src, 'fs/userfaultfd.c'))).isFile());
  await t.rejects(stat(join(src, 'fs/uffd.c')), { code: 'ENOENT' });
});

t.test('a patch that does not apply names the patch, the file and the hunk, and changes nothing', async (t) => {
  const { tree, scratch, src, mtime, read } = await setup(t);
  const good = await loadPatchSeries([fx('single/0001-mm-userfaultfd-note-the-minor-fault-path.patch')], tree);
  await applySeries({ tree, scratch, src, patches: good });
  const state = await readScratchState(scratch);
  const mmPatched = await mtime('mm/userfaultfd.c');
  const mmText = await read('mm/userfaultfd.c');
  const broken = await loadPatchSeries([fx('broken/0001-fs-userfaultfd-stale-context.patch')], tree);
  await rejectsExactly(t, applySeries({ tree, scratch, src, patches: [...good, ...broken] }), {
    kind: 'build',
    exitCode: 3,
    message: 'patch 2/2 0001-fs-userfaultfd-stale-context.patch does not apply: fs/userfaultfd.c: hunk #2 (@@ -17,7 +17,7 @@) does not match the tree',
    where: fx('broken/0001-fs-userfaultfd-stale-context.patch'),
    hint: "the tree's fs/userfaultfd.c differs from what the patch expects near line 17; rebase the patch on this tree, or use the tree it was written for",
  });
  // consistent for the next run: the scratch copy and its record are as the last good run left them
  t.equal(await read('mm/userfaultfd.c'), mmText);
  t.equal(await mtime('mm/userfaultfd.c'), mmPatched);
  t.equal(await mtime('fs/userfaultfd.c'), old.getTime());
  t.same(await readScratchState(scratch), state);
  const again = await applySeries({ tree, scratch, src, patches: good });
  t.same(again, { touched: ['mm/userfaultfd.c'], written: [] }, 'the same series again writes nothing');
});

t.test('a patch for a file the tree lacks says so', async (t) => {
  const { tree, scratch, src } = await setup(t);
  const patch = {
    name: 'missing-file.patch',
    origin: '/x/missing-file.patch',
    text: '--- a/mm/nosuch.c\n+++ b/mm/nosuch.c\n@@ -1,1 +1,1 @@\n-a\n+b\n',
  };
  await t.rejects(applySeries({ tree, scratch, src, patches: [patch] }), {
    kind: 'build',
    message: 'patch 1/1 missing-file.patch does not apply: mm/nosuch.c: No such file or directory',
  });
});

t.test('the user tree is never written', async (t) => {
  const { tree, scratch, src } = await setup(t);
  const before = await Promise.all(['mm/userfaultfd.c', 'fs/userfaultfd.c'].map(async (f) => [await readFile(join(tree, f)), (await stat(join(tree, f))).mtimeMs]));
  await applySeries({ tree, scratch, src, patches: await loadPatchSeries([fx('dir')], tree) });
  const after = await Promise.all(['mm/userfaultfd.c', 'fs/userfaultfd.c'].map(async (f) => [await readFile(join(tree, f)), (await stat(join(tree, f))).mtimeMs]));
  t.same(after, before);
  await t.rejects(stat(join(tree, 'include/linux/uffd_new.h')), { code: 'ENOENT' });
});

t.test('hunks are found by file and first line', async (t) => {
  const text = await readFile(fx('broken/0001-fs-userfaultfd-stale-context.patch'), 'utf8');
  t.same(findHunk(text, 'fs/userfaultfd.c', 3), { number: 1, header: '@@ -3,7 +3,7 @@' });
  t.same(findHunk(text, 'fs/userfaultfd.c', 17), { number: 2, header: '@@ -17,7 +17,7 @@' });
  t.equal(findHunk(text, 'mm/userfaultfd.c', 17), null);
  const plain = await readFile(fx('plain.diff'), 'utf8');
  t.same(findHunk(plain, 'mm/userfaultfd.c', 24), { number: 1, header: '@@ -24,7 +24,7 @@' });
});
