import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { rejectsExactly } from './fixtures/errors.js';
import { copyTree, treeIdentity } from '../kernels/source/tree.js';

// Tree identity on small git and plain trees built from the stand-in kernel tree.
const standIn = fileURLToPath(new URL('./fixtures/series/tree/', import.meta.url));
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'faultline-tree-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function gitRepo(dir: string): Promise<(...args: string[]) => Promise<string>> {
  await cp(standIn, dir, { recursive: true });
  const git = async (...args: string[]) => (await execa('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.org', ...args], { cwd: dir })).stdout;
  await git('init', '-q');
  await writeFile(join(dir, '.gitignore'), '*.o\n');
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  return git;
}

t.test('a git tree is named by its working tree contents, and the repository is left alone', async (t) => {
  const base = await scratch(t);
  const a = join(base, 'a');
  const b = join(base, 'b');
  const gitA = await gitRepo(a);
  await gitRepo(b);
  const cacheDir = join(base, 'cache');
  const idA = await treeIdentity(a, { cacheDir });
  t.equal(idA.kind, 'git');
  t.equal(idA.id, await gitA('rev-parse', 'HEAD^{tree}'), 'a clean tree is its HEAD tree');
  t.same(await treeIdentity(b, { cacheDir }), idA, 'identical content, same id');

  const index = await readFile(join(a, '.git', 'index'));
  const head = await gitA('rev-parse', 'HEAD');
  const objects = await gitA('count-objects');
  await writeFile(join(a, 'mm', 'userfaultfd.c'), '/* edited */\n', { flag: 'a' });
  const edited = await treeIdentity(a, { cacheDir });
  t.not(edited.id, idA.id, 'an uncommitted edit changes the id');
  await writeFile(join(a, 'mm', 'new.c'), 'int x;\n');
  const untracked = await treeIdentity(a, { cacheDir });
  t.not(untracked.id, edited.id, 'an untracked file changes the id');
  await writeFile(join(a, 'mm', 'new.o'), 'object');
  t.same(await treeIdentity(a, { cacheDir }), untracked, 'an ignored file does not');

  t.same(await readFile(join(a, '.git', 'index')), index, 'the index is untouched');
  t.equal(await gitA('rev-parse', 'HEAD'), head, 'HEAD is untouched');
  t.equal(await gitA('count-objects'), objects, 'no object was written to the repository');
  t.equal(await gitA('status', '--porcelain'), ' M mm/userfaultfd.c\n?? mm/new.c');

  const copy = join(base, 'copy');
  await copyTree(a, copy);
  t.equal(await readFile(join(copy, 'mm', 'userfaultfd.c'), 'utf8'), await readFile(join(a, 'mm', 'userfaultfd.c'), 'utf8'));
  t.equal(await readFile(join(copy, 'mm', 'new.c'), 'utf8'), 'int x;\n');
  await t.rejects(stat(join(copy, 'mm', 'new.o')), { code: 'ENOENT' }, 'ignored build output is not copied');
  await t.rejects(stat(join(copy, '.git')), { code: 'ENOENT' });
});

t.test('a plain tree is named by a content hash, remembered per file', async (t) => {
  const base = await scratch(t);
  const a = join(base, 'a');
  const b = join(base, 'b');
  await cp(standIn, a, { recursive: true });
  await cp(standIn, b, { recursive: true });
  const cacheDir = join(base, 'cache');
  const idA = await treeIdentity(a, { cacheDir });
  t.equal(idA.kind, 'plain');
  t.match(idA.id, /^plain-[0-9a-f]{40}$/);
  t.same(await treeIdentity(b, { cacheDir }), idA, 'identical content, same id');
  t.same(await treeIdentity(a, { cacheDir }), idA, 'stable across runs');
  await writeFile(join(a, 'mm', 'userfaultfd.c'), '/* edited */\n', { flag: 'a' });
  const edited = await treeIdentity(a, { cacheDir });
  t.not(edited.id, idA.id, 'an edit changes the id');
  await writeFile(join(b, 'mm', 'userfaultfd.c'), '/* edited */\n', { flag: 'a' });
  t.same(await treeIdentity(b, { cacheDir }), edited);
  const copy = join(base, 'copy');
  await copyTree(a, copy);
  t.same(await treeIdentity(copy, { cacheDir }), edited, 'a copy has the same identity');
});

t.test('a directory that is not a kernel tree is refused by name', async (t) => {
  const base = await scratch(t);
  await rejectsExactly(t, treeIdentity(base), { kind: 'kernel', message: `${base} is not a kernel source tree (no Makefile, Kconfig, arch/x86)`, where: base });
  await rejectsExactly(t, treeIdentity(join(base, 'nosuch')), { kind: 'kernel', message: `kernel tree ${join(base, 'nosuch')} does not exist` });
});
