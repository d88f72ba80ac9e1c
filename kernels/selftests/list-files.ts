import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { pathExists } from '../../runner/core/files.js';
import { applyEnv, applyError } from '../source/apply.js';
import type { Patch } from '../source/patches.js';

/** Every file a tree's kselftest case list is read from: which generation it is (the programs'
 * sources), run_vmtests.sh's runs, the unit table and the time limit, of both generations. */
export const selftestListFiles: readonly string[] = ['vm/userfaultfd.c', 'vm/run_vmtests.sh', 'vm/settings', 'mm/uffd-unit-tests.c', 'mm/run_vmtests.sh', 'mm/settings'].map((f) => `tools/testing/selftests/${f}`);

/** The patches of a series that may change the case list: any that names one of its files. */
export function listPatches(patches: readonly Patch[]): Patch[] {
  return patches.filter((p) => selftestListFiles.some((f) => p.text.includes(f)));
}

// A source kernel's selftests are built from its tree with its series applied, so the case list
// is read from the same, before anything is built: the list's files are copied out of the tree
// and the series is applied to them as the build applies it (git apply, patch by patch, here
// limited to those files). `read` gets the tree itself when no patch touches them. A patch that
// does not apply throws the build's own error for it.
export async function readAfterSeries<T>(tree: string, patches: readonly Patch[], read: (root: string) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
  const relevant = listPatches(patches);
  if (relevant.length === 0) return read(tree);
  const root = await mkdtemp(join(tmpdir(), 'faultline-list-'));
  try {
    for (const rel of selftestListFiles) {
      if (!(await pathExists(join(tree, rel)))) continue;
      await mkdir(dirname(join(root, rel)), { recursive: true });
      await copyFile(join(tree, rel), join(root, rel));
    }
    const only = selftestListFiles.map((f) => `--include=${f}`);
    for (const patch of relevant) {
      signal?.throwIfAborted();
      const r = await execa('git', ['apply', `-p${patch.strip ?? 1}`, '--whitespace=nowarn', '--allow-empty', ...only], { cwd: root, env: applyEnv(root), input: patch.text, reject: false });
      if (r.exitCode !== 0) throw applyError(patch, patches.indexOf(patch), patches.length, r.stderr);
    }
    return await read(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
