import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildSelftests, type BuiltSelftests } from '../selftests/programs.js';
import { applySeries } from './apply.js';
import { acquireLock } from '../../runner/core/lock.js';
import type { Patch } from './patches.js';
import type { BuildProgress } from './progress.js';
import { ensureScratchSource } from './scratch.js';
import { checkKernelTree } from './tree.js';

/** How a source kernel was built, as far as its selftests need to know. */
export interface SourceBuildInputs {
  tree: string;
  patches: Patch[];
  /** The object directory the kernel was built in; its scratch copy of the tree is beside it. */
  objDir: string;
  /** The kernel's own `make headers` output. */
  headersDir: string;
}

// A source kernel's selftests are its tree's with its series applied (a series often changes
// them), built against the kernel's own headers. They are built in the kernel's scratch copy,
// under its lock, so another run building a different series there waits.
export async function buildSourceSelftests(source: SourceBuildInputs, opts: { cacheDir: string; signal?: AbortSignal; onProgress?: (p: BuildProgress) => void }): Promise<BuiltSelftests> {
  const root = await checkKernelTree(source.tree);
  const scratch = dirname(source.objDir);
  const signal = opts.signal;
  const progress = opts.onProgress ?? (() => {});
  await mkdir(join(scratch, 'logs'), { recursive: true });
  const lock = await acquireLock(join(scratch, 'lock'), {
    ...(signal ? { signal } : {}),
    onWait: (pid) => progress({ step: 'copy', detail: `waiting for process ${pid}, which is building in ${scratch}` }),
  });
  try {
    const src = await ensureScratchSource({ root, scratch, logPath: join(scratch, 'logs', 'selftests-copy.log'), progress, ...(signal ? { signal } : {}) });
    await applySeries({ tree: root, scratch, src, patches: source.patches, ...(signal ? { signal } : {}) });
    return await buildSelftests(src, { cacheDir: opts.cacheDir, headers: source.headersDir, ...(signal ? { signal } : {}) });
  } finally {
    await lock.release();
  }
}
