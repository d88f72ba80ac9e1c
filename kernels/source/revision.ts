import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../../runner/core/errors.js';
import { pathExists } from '../../runner/core/files.js';
import { cLocaleEnv } from '../../runner/core/env.js';

// A commit range A..B is tested on top of A, not on the working tree (which, checked out at B,
// already holds the range): A's tree is exported once into the cache, named by its tree id.
export async function treeAtRevision(tree: string, revision: string, cacheDir: string): Promise<string> {
  const env = cLocaleEnv();
  const id = await execa('git', ['rev-parse', '--verify', `${revision}^{tree}`], { cwd: tree, reject: false, env, stdin: 'ignore' });
  if (id.exitCode !== 0) {
    throw new FaultlineError('usage', `${revision} is not a commit in ${tree}`, { where: revision, hint: `check the range's start with: git -C ${tree} log -1 ${revision}` });
  }
  const dest = join(cacheDir, 'kernels', 'source', 'revisions', id.stdout.trim());
  if (await pathExists(join(dest, 'Makefile'))) return dest;
  await mkdir(join(dest, '..'), { recursive: true });
  const tmp = await mkdtemp(`${dest}.tmp-`);
  try {
    const exported = await execa('sh', ['-c', 'git archive --format=tar "$1" | tar -x -C "$2"', 'sh', revision, tmp], { cwd: tree, reject: false, env, stdin: 'ignore' });
    if (exported.exitCode !== 0) {
      throw new FaultlineError('io', `cannot export ${revision} from ${tree}: ${exported.stderr.trim().split('\n')[0] ?? ''}`, { where: dest, hint: 'Check free space in the cache directory.' });
    }
    await rename(tmp, dest).catch(async (cause: NodeJS.ErrnoException) => {
      // another run exported the same tree first; it is identical
      if (!(await pathExists(join(dest, 'Makefile')))) throw cause;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dest;
}

/** The commit a revision names in the git repository holding `tree`; null when the tree is not
 * in git (or the revision names no commit). */
export async function commitOf(tree: string, revision = 'HEAD'): Promise<string | null> {
  const r = await execa('git', ['rev-parse', '--verify', '--quiet', `${revision}^{commit}`], { cwd: tree, reject: false, env: cLocaleEnv(), stdin: 'ignore' });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}
