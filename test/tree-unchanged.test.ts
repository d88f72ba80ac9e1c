import { appendFile, chmod, cp, mkdir, mkdtemp, readFile, realpath, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { unchangedTreeId } from '../kernels/source/tree-manifest.js';
import { plainTreeRecords, treeIdentity } from '../kernels/source/tree.js';
import { cacheDir as defaultCacheDir } from '../runner/core/paths.js';
import { linuxSources, linuxTreeOf } from './fixtures/linux-tree.js';

// A plain tree's cached identity is reused only when a stat walk proves the tree unchanged
// (kernels/source/tree-manifest.ts); every kind of edit must still give a new identity.
const standIn = fileURLToPath(new URL('./fixtures/series/tree/', import.meta.url));
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'faultline-unchanged-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const proven = async (tree: string, cacheDir: string) => unchangedTreeId(plainTreeRecords(await realpath(tree), cacheDir), await realpath(tree));

// Edits as editors, patch tools and builds make them; each on its own copy of the stand-in tree.
const edits: Record<string, (tree: string) => Promise<void>> = {
  'an append in place': (tree) => appendFile(join(tree, 'mm', 'userfaultfd.c'), '/* edited */\n'),
  'a same-size rewrite with the old mtime put back': async (tree) => {
    const file = join(tree, 'mm', 'userfaultfd.c');
    const before = await stat(file);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/[a-z]/, (c) => (c === 'x' ? 'y' : 'x')));
    await utimes(file, before.atime, before.mtime);
  },
  'a new file in a subdirectory': (tree) => writeFile(join(tree, 'mm', 'new.c'), 'int x;\n'),
  'a new directory': (tree) => mkdir(join(tree, 'mm', 'sub')),
  'a removed file': (tree) => unlink(join(tree, 'fs', 'userfaultfd.c')),
  'a renamed file': (tree) => rename(join(tree, 'mm', 'userfaultfd.c'), join(tree, 'mm', 'userfaultfd2.c')),
  'a file made executable': (tree) => chmod(join(tree, 'Makefile'), 0o755),
  'a file replaced by a copy of itself': async (tree) => {
    await cp(join(tree, 'Makefile'), join(tree, 'Makefile.new'), { preserveTimestamps: true });
    await rename(join(tree, 'Makefile.new'), join(tree, 'Makefile'));
  },
  'a symlink pointed elsewhere': async (tree) => {
    await unlink(join(tree, 'link'));
    await symlink('Kconfig', join(tree, 'link'));
  },
};

const sameContent = new Set(['a new directory', 'a file replaced by a copy of itself']);

t.test('an unchanged plain tree is proven by stat data, and every edit is seen', async (t) => {
  const base = await scratch(t);
  const cacheDir = join(base, 'cache');
  const trees = Object.keys(edits).map((_, i) => join(base, `tree-${i}`));
  for (const tree of trees) {
    await cp(standIn, tree, { recursive: true });
    await symlink('Makefile', join(tree, 'link'));
  }
  // entries younger than two seconds never go into a manifest (a same-tick edit could hide)
  t.equal(await proven(trees[0]!, cacheDir), null);
  const young = await treeIdentity(trees[0]!, { cacheDir });
  t.equal(await proven(trees[0]!, cacheDir), null, 'no manifest of a tree edited just now');
  await sleep(2100);
  const ids = [];
  for (const tree of trees) {
    const id = await treeIdentity(tree, { cacheDir });
    t.same(id, young, 'copies of one tree share the identity');
    t.equal(await proven(tree, cacheDir), id.id, 'proven unchanged once hashed');
    ids.push(id);
  }
  for (const [i, [what, edit]] of Object.entries(edits).entries()) {
    const tree = trees[i]!;
    await edit(tree);
    t.equal(await proven(tree, cacheDir), null, `${what}: not proven unchanged`);
    const after = await treeIdentity(tree, { cacheDir });
    // an empty directory is no content, and a copy of a file is the same content
    if (sameContent.has(what)) t.same(after, ids[i], `${what}: rehashed, same identity`);
    else t.not(after.id, ids[i]!.id, `${what}: a new identity`);
  }
});

t.test('without git on PATH, the files are compared by this process', async (t) => {
  const base = await scratch(t);
  const cacheDir = join(base, 'cache');
  const tree = join(base, 'tree');
  await cp(standIn, tree, { recursive: true });
  await sleep(2100);
  const path = process.env.PATH;
  process.env.PATH = join(base, 'no-programs-here');
  t.teardown(() => {
    process.env.PATH = path;
  });
  const id = await treeIdentity(tree, { cacheDir });
  t.equal(await proven(tree, cacheDir), id.id);
  await appendFile(join(tree, 'mm', 'userfaultfd.c'), '/* edited */\n');
  t.equal(await proven(tree, cacheDir), null);
  t.not((await treeIdentity(tree, { cacheDir })).id, id.id);
});

// The trees this was made for: Debian's linux-source trees of about 80k files, from the cache.
for (const source of linuxSources) {
  t.test(`linux-source-${source.version}: a rerun proves the tree unchanged`, { skip: source.missing ?? false }, async (t) => {
    const cacheDir = defaultCacheDir();
    const tree = await linuxTreeOf(source, cacheDir);
    const id = await treeIdentity(tree, { cacheDir });
    t.match(id, { kind: 'plain', id: /^plain-[0-9a-f]{40}$/ });
    t.equal(await proven(tree, cacheDir), id.id);
    t.same(await treeIdentity(tree, { cacheDir }), id);
  });
}
