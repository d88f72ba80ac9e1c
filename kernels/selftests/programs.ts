import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../../runner/core/errors.js';
import { buildFailure } from '../source/failure.js';
import { hashParts } from '../../runner/core/hash.js';
import { buildEnvKey, describeBuildEnv, hostBuildEnv, type BuildEnv } from '../../runner/core/engine/build-env.js';
import { acquireLock } from '../../runner/core/lock.js';
import { runMake } from '../source/make.js';

// The kernel's own userfaultfd selftests, as its tree has them: up to 6.3 one program,
// tools/testing/selftests/vm/userfaultfd; from 6.4 tools/testing/selftests/mm/uffd-unit-tests
// and uffd-stress. Built statically through the tree's own Makefile (the file lists differ
// between versions) against the tree's UAPI headers, cached by their inputs.
//
// Static PIE, not plain static: a non-PIE program sits at 0x400000 and x86-64 randomizes its heap
// start over the next 1 GiB, so about one start in a hundred puts the heap where the tests map
// their fixed shmem areas (BASE_PMD_ADDR, 1 GiB) and they fail with "mmap of memfd failed".
const linkFlags = 'LDFLAGS=-static-pie';

/** Static PIE for faultline's own runner on any guest; dynamic, as the tree's Makefile links them,
 * for run_vmtests.sh on a guest image with a libc (built in a container of that image). */
export type SelftestLinkage = 'static' | 'dynamic';

/** The tree's own runner, copied beside the dynamic programs. */
export const vmtestsScript = 'run_vmtests.sh';
export type SelftestGeneration = 'vm-userfaultfd' | 'mm-uffd';

export const selftestTargets: Record<SelftestGeneration, { dir: string; programs: string[] }> = {
  'vm-userfaultfd': { dir: 'tools/testing/selftests/vm', programs: ['userfaultfd'] },
  'mm-uffd': { dir: 'tools/testing/selftests/mm', programs: ['uffd-unit-tests', 'uffd-stress'] },
};

export function selftestGeneration(root: string): SelftestGeneration | null {
  if (existsSync(join(root, 'tools/testing/selftests/mm/uffd-unit-tests.c'))) return 'mm-uffd';
  if (existsSync(join(root, 'tools/testing/selftests/vm/userfaultfd.c'))) return 'vm-userfaultfd';
  return null;
}


export interface BuiltSelftests {
  generation: SelftestGeneration;
  /** Holds the programs, ready to copy into a guest. */
  dir: string;
  programs: string[];
  linkage: SelftestLinkage;
  cached: boolean;
}

// Builds the selftest programs of a prepared tree (its Makefile, against `headers` or the tree's
// own usr/include) into the cache, keyed by every file of the test directory and the selftests'
// shared make and header files, the headers, the build environment (the host's compiler or the
// image's content) and the linkage. A dynamic build also carries the directory's run_vmtests.sh,
// unchanged. Built under a lock, so two runs (or two kernels of one series) take turns and the
// second finds the programs ready.
export async function buildSelftests(
  root: string,
  opts: { cacheDir: string; headers?: string | null; signal?: AbortSignal; env?: BuildEnv; linkage?: SelftestLinkage },
): Promise<BuiltSelftests> {
  const generation = selftestGeneration(root);
  if (!generation) throw new FaultlineError('kernel', `${root} has no userfaultfd selftests (tools/testing/selftests/{vm/userfaultfd,mm/uffd-unit-tests}.c)`, { hint: 'Give --selftests-from a Linux tree from 4.11 on.' });
  const { dir, programs } = selftestTargets[generation];
  const env = opts.env ?? hostBuildEnv;
  const linkage = opts.linkage ?? 'static';
  const testDir = join(root, dir);
  const headers = opts.headers ?? join(root, 'usr', 'include');
  const inputs = [...readdirSync(testDir).sort().map((f) => join(dir, f)), ...sharedInputs.map((f) => join(dirname(dir), f))].filter((f) => isFileSync(join(root, f)));
  // The static host build keeps the key it always had, so its cached programs stay valid.
  const key = hashParts(['faultline-selftests-3', generation, ...inputs.flatMap((f) => [f, readFileSync(join(root, f))]), readFileSync(join(headers, 'linux', 'userfaultfd.h')), await buildEnvKey(env), ...(linkage === 'static' ? [] : [linkage])]);
  const built = join(opts.cacheDir, 'selftests', 'built');
  const out = join(built, key);
  const files = linkage === 'dynamic' ? [...programs, vmtestsScript] : programs;
  const done = () => files.every((p) => existsSync(join(out, p)));
  const result = (cached: boolean): BuiltSelftests => ({ generation, dir: out, programs, linkage, cached });
  if (done()) return result(true);
  await mkdir(built, { recursive: true });
  const signal = opts.signal;
  const lock = await acquireLock(`${out}.lock`, signal ? { signal } : {});
  try {
    if (done()) return result(true);
    const log = `${out}.log`;
    await writeFile(log, '');
    // OUTPUT= puts the objects and programs beside the cache entry, not in the tree.
    const tmp = await mkdtemp(`${out}.tmp-`);
    try {
      const flags = linkage === 'static' ? [linkFlags] : [];
      // In a container the whole tree is mounted: the Makefile reaches lib.mk, tools/include and mm/ above it.
      const made = await runMake(['-C', testDir, ...flags, `KHDR_INCLUDES=-isystem ${headers}`, `OUTPUT=${tmp}`, ...programs.map((p) => join(tmp, p))], {
        cwd: testDir,
        logPath: log,
        ...(signal ? { signal } : {}),
        ...(env.kind === 'container' ? { env, mounts: [root, headers, built] } : {}),
      });
      if (made.aborted) signal?.throwIfAborted();
      const how = `${linkage === 'static' ? linkFlags : 'dynamically linked'}, through ${dir}/Makefile${env.kind === 'container' ? `, in ${describeBuildEnv(env)}` : ''}`;
      if (made.exitCode !== 0) throw await buildFailure(`the userfaultfd selftests do not build (${how})`, log, root);
      for (const name of readdirSync(tmp)) if (!programs.includes(name)) await rm(join(tmp, name), { recursive: true, force: true });
      if (linkage === 'dynamic') await copyFile(join(testDir, vmtestsScript), join(tmp, vmtestsScript));
      await rm(out, { recursive: true, force: true });
      await rename(tmp, out);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return result(false);
  } finally {
    await lock.release();
  }
}

/** What every selftest directory's Makefile includes from the one above it. */
const sharedInputs = ['lib.mk', 'kselftest.h', 'kselftest_harness.h'];

function isFileSync(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
