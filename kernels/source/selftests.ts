import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildSelftests, type BuiltSelftests, type SelftestLinkage } from '../selftests/programs.js';
import { applySeries } from './apply.js';
import { acquireLock } from '../../runner/core/lock.js';
import type { Patch } from './patches.js';
import type { BuildProgress } from './progress.js';
import { ensureScratchSource } from './scratch.js';
import { checkKernelTree } from './tree.js';
import type { BuildEnv } from '../../runner/core/engine/build-env.js';

/** How a source kernel was built, as far as its selftests need to know. */
export interface SourceBuildInputs {
  tree: string;
  patches: Patch[];
  /** The object directory the kernel was built in; its scratch copy of the tree is beside it. */
  objDir: string;
  /** The kernel's own `make headers` output. */
  headersDir: string;
  /** Where the kernel was compiled; its selftests are compiled there too. The host when absent. */
  env?: BuildEnv;
}

// A source kernel's selftests are its tree's with its series applied (a series often changes
// them), built against the kernel's own headers. They are built in the kernel's scratch copy,
// under its lock, so another run building a different series there waits. `build` says where and
// how the programs are linked when not as the kernel was built (run_vmtests.sh's, dynamically
// linked in the guest's own image).
export async function buildSourceSelftests(
  source: SourceBuildInputs,
  opts: { cacheDir: string; signal?: AbortSignal; onProgress?: (p: BuildProgress) => void; build?: { env?: BuildEnv; linkage: SelftestLinkage } },
): Promise<BuiltSelftests> {
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
    const env = source.env ? { env: source.env } : {};
    const src = await ensureScratchSource({ root, scratch, logPath: join(scratch, 'logs', 'selftests-copy.log'), progress, ...env, ...(signal ? { signal } : {}) });
    await applySeries({ tree: root, scratch, src, patches: source.patches, ...(signal ? { signal } : {}) });
    const programs = opts.build ? { ...(opts.build.env ? { env: opts.build.env } : {}), linkage: opts.build.linkage } : env;
    return await buildSelftests(src, { cacheDir: opts.cacheDir, headers: source.headersDir, ...programs, ...(signal ? { signal } : {}) });
  } finally {
    await lock.release();
  }
}
