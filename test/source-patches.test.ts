import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import type { ErrorKind } from '../runner/core/errors.js';
import { rejectsExactly } from './fixtures/errors.js';
import { isCommitRange, loadPatchSeries, mailSubject, type Patch } from '../kernels/source/patches.js';

// Loads every form `--patches` accepts from the fixtures under test/fixtures/series.
const fixtures = fileURLToPath(new URL('./fixtures/series/', import.meta.url));
const fx = (p: string) => join(fixtures, p);
const tree = fx('tree');
const names = (patches: Patch[]) => patches.map((p) => p.name);

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** A directory outside any git repository (the project itself is one). */
async function outsideGit(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'faultline-patches-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const rejects = async (t: Test, inputs: string[], kind: ErrorKind, message: string, where: string, from = tree) => {
  const error = await rejectsExactly(t, loadPatchSeries(inputs, from), { kind, message, where });
  t.ok(error?.hint, 'says what to do');
};

t.test('a git format-patch file is one patch named after the file', async (t) => {
  const patches = await loadPatchSeries([fx('single/0001-mm-userfaultfd-note-the-minor-fault-path.patch')], tree);
  t.same(names(patches), ['0001-mm-userfaultfd-note-the-minor-fault-path.patch']);
  t.equal(patches[0]!.origin, fx('single/0001-mm-userfaultfd-note-the-minor-fault-path.patch'));
  t.match(patches[0]!.text, /^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\n/);
  t.match(patches[0]!.text, /\n\+static int mm_userfaultfd_c_10 = 10; \/\* minor faults \*\/\n/);
});

t.test('a plain unified diff is one patch', async (t) => {
  const patches = await loadPatchSeries([fx('plain.diff')], tree);
  t.same(names(patches), ['plain.diff']);
  t.match(patches[0]!.text, /^--- a\/mm\/userfaultfd.c\n\+\+\+ b\/mm\/userfaultfd.c\n@@ -24,7 \+24,7 @@/);
});

t.test('an mbox splits into its messages and skips the cover letter', async (t) => {
  const patches = await loadPatchSeries([fx('v2-series.mbox')], tree);
  t.same(names(patches), [
    '[PATCH v2 1/3] mm/userfaultfd: note the minor fault path',
    '[PATCH v2 2/3] fs/userfaultfd: change twenty',
    '[PATCH v2 3/3] include: add uffd_new.h',
  ]);
  for (const p of patches) {
    t.equal(p.origin, fx('v2-series.mbox'));
    t.match(p.text, /^From [0-9a-f]{40} /);
    t.equal((p.text.match(/^diff --git /gm) ?? []).length, 1, 'one diff per message');
  }
  t.notMatch(patches.map((p) => p.text).join(''), /cover letter/);
});

t.test('a directory applies its *.patch files in name order, skipping the cover letter', async (t) => {
  const patches = await loadPatchSeries([fx('dir')], tree);
  t.same(names(patches), [
    '0001-mm-userfaultfd-note-the-minor-fault-path.patch',
    '0002-fs-userfaultfd-change-twenty.patch',
    '0003-include-add-uffd_new.h.patch',
  ]);
});

t.test('a quilt series file lists patches relative to its directory, with comments and -pN', async (t) => {
  const patches = await loadPatchSeries([fx('quilt/series')], tree);
  t.same(names(patches), ['fs-change-twenty.patch', 'add-header.patch']);
  t.equal(patches[0]!.strip, undefined);
  t.equal(patches[1]!.strip, 1);
  t.equal(patches[1]!.origin, fx('quilt/add-header.patch'));
});

t.test('inputs are concatenated in the order given', async (t) => {
  const patches = await loadPatchSeries([fx('plain.diff'), fx('quilt/series'), fx('single/0001-mm-userfaultfd-note-the-minor-fault-path.patch')], tree);
  t.same(names(patches), ['plain.diff', 'fs-change-twenty.patch', 'add-header.patch', '0001-mm-userfaultfd-note-the-minor-fault-path.patch']);
});

t.test('a commit range of a git tree becomes its commits, oldest first', async (t) => {
  const repo = join(await outsideGit(t), 'linux');
  await cp(tree, repo, { recursive: true });
  const git = (...args: string[]) => execa('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.org', ...args], { cwd: repo });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  await git('apply', fx('plain.diff'));
  await git('commit', '-qam', 'mm: twenty-six');
  await git('apply', fx('quilt/fs-change-twenty.patch'));
  await git('commit', '-qam', 'fs: twenty-one');
  const patches = await loadPatchSeries(['HEAD~2..HEAD'], repo);
  t.same(names(patches), ['[PATCH 1/2] mm: twenty-six', '[PATCH 2/2] fs: twenty-one']);
  t.equal(patches[0]!.origin, 'HEAD~2..HEAD');
  t.match(patches[1]!.text, /\n-static int fs_userfaultfd_c_20 = 20;\n\+static int fs_userfaultfd_c_20 = 21;\n/);
  await rejects(
    t,
    ['nosuch..HEAD'],
    'usage',
    "git format-patch nosuch..HEAD failed: fatal: ambiguous argument 'nosuch..HEAD': unknown revision or path not in the working tree.",
    'nosuch..HEAD',
    repo,
  );
  await rejects(t, ['HEAD..HEAD~2'], 'usage', 'commit range HEAD..HEAD~2 holds no commits with changes', 'HEAD..HEAD~2', repo);
});

t.test('commit ranges are told apart from paths', async (t) => {
  t.ok(isCommitRange('v6.1..HEAD'));
  t.ok(isCommitRange('origin/master..my-series'));
  t.ok(isCommitRange('HEAD~3..'));
  t.notOk(isCommitRange('../missing.patch'));
  t.notOk(isCommitRange('series/../x.patch'));
  t.notOk(isCommitRange('a...b'));
});

t.test('mail subjects are unfolded and RFC 2047 decoded', async (t) => {
  t.equal(mailSubject('From: x\nSubject: [PATCH 1/2] mm: a long\n subject line\n\nbody'), '[PATCH 1/2] mm: a long subject line');
  t.equal(mailSubject('Subject: =?UTF-8?q?[PATCH]=20mm:=20caf=C3=A9?=\n\nbody'), '[PATCH] mm: café');
  t.equal(mailSubject('From: x\n\nSubject: in the body'), null);
});

t.test('bad inputs name the file and the fix', async (t) => {
  await rejects(t, [fx('nosuch.patch')], 'usage', `patch input ${fx('nosuch.patch')} does not exist`, fx('nosuch.patch'));
  await rejects(t, [fx('bad/notes.txt')], 'usage', `${fx('bad/notes.txt')} holds no patch: no diff, and it is not a quilt series file`, fx('bad/notes.txt'));
  await rejects(t, [fx('bad/no-diff.patch')], 'usage', `${fx('bad/no-diff.patch')} holds no patch: no diff, and it is not a quilt series file`, fx('bad/no-diff.patch'));
  await rejects(t, [fx('bad/binary.patch')], 'usage', `${fx('bad/binary.patch')} is a binary file, not a patch`, fx('bad/binary.patch'));
  await rejects(
    t,
    [fx('bad/series-missing/series')],
    'usage',
    `quilt series names missing.patch, which does not exist in ${fx('bad/series-missing')}`,
    `${fx('bad/series-missing/series')}:2`,
  );
  const plain = join(await outsideGit(t), 'linux');
  await cp(tree, plain, { recursive: true });
  await rejects(t, ['v1..v2'], 'usage', `v1..v2 looks like a commit range, but ${plain} is not a git tree`, 'v1..v2', plain);
  const empty = t.testdir({ 'notes.txt': 'x' });
  await rejects(t, [empty], 'usage', `directory ${empty} holds no *.patch files`, empty);
  const coverOnly = join(t.testdir({}), 'cover');
  await mkdir(coverOnly);
  await cp(fx('dir/0000-cover-letter.patch'), join(coverOnly, '0000-cover-letter.patch'));
  await rejects(t, [coverOnly], 'usage', `directory ${coverOnly} holds only a cover letter, no patches`, coverOnly);
  const noDiffInDir = join(t.testdir({}), 'nodiff');
  await mkdir(noDiffInDir);
  await cp(fx('bad/no-diff.patch'), join(noDiffInDir, '0001-x.patch'));
  await rejects(t, [noDiffInDir], 'usage', `${join(noDiffInDir, '0001-x.patch')} holds no diff`, join(noDiffInDir, '0001-x.patch'));
});
