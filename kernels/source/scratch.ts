import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists } from '../../runner/core/files.js';
import type { BuildEnv } from '../../runner/core/engine/build-env.js';
import { buildFailure } from './failure.js';
import { runMake } from './make.js';
import type { BuildProgress } from './progress.js';
import { toolStep } from './tool-step.js';
import { copyTree } from './tree.js';

// The scratch copy of the user's tree (`scratch`/src) that series are applied to and built from,
// made once per (tree, config). Only called under the scratch lock.
export async function ensureScratchSource(o: { root: string; scratch: string; logPath: string; progress: (p: BuildProgress) => void; signal?: AbortSignal; env?: BuildEnv }): Promise<string> {
  const { root, scratch, logPath, signal } = o;
  const src = join(scratch, 'src');
  if (await pathExists(src)) return src;
  o.progress({ step: 'copy', detail: `copying ${root} into ${src}` });
  await removeStaleCopies(scratch);
  const tmp = await mkdtemp(join(scratch, 'src.tmp-'));
  try {
    await toolStep(`copying ${root} into the cache`, tmp, () => copyTree(root, tmp, signal), signal);
    // an in-tree build in the user's tree leaves .config behind, and kbuild refuses O= then
    if ((await pathExists(join(tmp, '.config'))) || (await pathExists(join(tmp, 'include', 'config')))) {
      const clean = await runMake(['-C', tmp, 'mrproper'], { cwd: tmp, logPath, ...(o.env ? { env: o.env } : {}), ...(signal ? { signal } : {}) });
      if (clean.aborted) signal?.throwIfAborted();
      if (clean.exitCode !== 0) throw await buildFailure(`make mrproper in the copy of ${root} failed`, logPath);
    }
    await rename(tmp, src);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return src;
}

// Half-made copies left by a run killed outright (SIGKILL, power loss); no other run is writing
// one while the lock is held.
async function removeStaleCopies(scratch: string): Promise<void> {
  const names = await readdir(scratch).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith('src.tmp-')).map((n) => rm(join(scratch, n), { recursive: true, force: true })));
}
