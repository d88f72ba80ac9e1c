import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { loadPatchSeries } from '../kernels/source/patches.js';
import { commitOf, treeAtRevision } from '../kernels/source/revision.js';

// A tree checked out at B, tested with --patches A..B: the series must go on top of A's tree.
const dir = mkdtempSync(join(tmpdir(), 'faultline-revision-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const repo = join(dir, 'linux');
const git = (...args: string[]) => execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@faultline.invalid', ...args], { cwd: repo });

t.test('the range is applied to the tree at its start, exported once', async (t) => {
  await execa('git', ['init', '-q', repo]);
  await git('config', 'diff.noprefix', 'true'); // a user setting that would break -p1
  writeFileSync(join(repo, 'Makefile'), 'all:\n');
  writeFileSync(join(repo, 'userfaultfd.c'), 'int continue_errno = EEXIST;\n');
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  await git('tag', 'base');
  writeFileSync(join(repo, 'userfaultfd.c'), 'int continue_errno = EAGAIN;\n');
  await git('commit', '-qam', 'mm: break CONTINUE');

  const cache = join(dir, 'cache');
  const base = await treeAtRevision(repo, 'base', cache);
  t.equal(readFileSync(join(base, 'userfaultfd.c'), 'utf8'), 'int continue_errno = EEXIST;\n', "A's contents, not the working tree's");
  t.equal(await treeAtRevision(repo, 'base', cache), base, 'the same tree id reuses the export');

  const [patch, ...rest] = await loadPatchSeries(['base..HEAD'], repo);
  t.equal(rest.length, 0);
  t.match(patch!.text, /^--- a\/userfaultfd\.c$/m, 'a/ b/ prefixes even with diff.noprefix set');
  const check = await execa('git', ['apply', '--check', '-'], { cwd: base, input: patch!.text, reject: false });
  t.equal(check.exitCode, 0, check.stderr);

  await t.rejects(treeAtRevision(repo, 'no-such-tag', cache), { kind: 'usage', message: `no-such-tag is not a commit in ${repo}` });
});

t.test('the commit run.json names for a tree: HEAD, or the start of its range; none outside git', async (t) => {
  const head = (await git('rev-parse', 'HEAD')).stdout;
  t.match(head, /^[0-9a-f]{40}$/);
  t.equal(await commitOf(repo), head);
  t.equal(await commitOf(repo, 'base'), (await git('rev-parse', 'base')).stdout);
  t.equal(await commitOf(repo, 'no-such-tag'), null);
  t.equal(await commitOf(await treeAtRevision(repo, 'base', join(dir, 'cache'))), null, 'an exported tree is no repository');
});
