import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../../runner/core/errors.js';
import { buildFailure } from '../source/failure.js';
import { hashParts } from '../../runner/core/hash.js';
import { compilerVersion } from '../../runner/core/tools.js';
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
  cached: boolean;
}

// Builds the selftest programs of a prepared tree (its Makefile, static PIE, against `headers` or the
// tree's own usr/include) into the cache, keyed by every file of the test directory and the
// selftests' shared make and header files, the headers and the compiler. Built under a lock, so
// two runs (or two kernels of one series) take turns and the second finds the programs ready.
export async function buildSelftests(root: string, opts: { cacheDir: string; headers?: string | null; signal?: AbortSignal }): Promise<BuiltSelftests> {
  const generation = selftestGeneration(root);
  if (!generation) throw new FaultlineError('kernel', `${root} has no userfaultfd selftests (tools/testing/selftests/{vm/userfaultfd,mm/uffd-unit-tests}.c)`, { hint: 'Give --selftests-from a Linux tree from 4.11 on.' });
  const { dir, programs } = selftestTargets[generation];
  const testDir = join(root, dir);
  const headers = opts.headers ?? join(root, 'usr', 'include');
  const inputs = [...readdirSync(testDir).sort().map((f) => join(dir, f)), ...sharedInputs.map((f) => join(dirname(dir), f))].filter((f) => isFileSync(join(root, f)));
  const key = hashParts(['faultline-selftests-3', generation, ...inputs.flatMap((f) => [f, readFileSync(join(root, f))]), readFileSync(join(headers, 'linux', 'userfaultfd.h')), await compilerVersion()]);
  const built = join(opts.cacheDir, 'selftests', 'built');
  const out = join(built, key);
  const done = () => programs.every((p) => existsSync(join(out, p)));
  if (done()) return { generation, dir: out, programs, cached: true };
  await mkdir(built, { recursive: true });
  const signal = opts.signal;
  const lock = await acquireLock(`${out}.lock`, signal ? { signal } : {});
  try {
    if (done()) return { generation, dir: out, programs, cached: true };
    const log = `${out}.log`;
    await writeFile(log, '');
    // OUTPUT= puts the objects and programs beside the cache entry, not in the tree.
    const tmp = await mkdtemp(`${out}.tmp-`);
    try {
      const made = await runMake(['-C', testDir, linkFlags, `KHDR_INCLUDES=-isystem ${headers}`, `OUTPUT=${tmp}`, ...programs.map((p) => join(tmp, p))], { cwd: testDir, logPath: log, ...(signal ? { signal } : {}) });
      if (made.aborted) signal?.throwIfAborted();
      if (made.exitCode !== 0) throw await buildFailure(`the userfaultfd selftests do not build (${linkFlags}, through ${dir}/Makefile)`, log, root);
      for (const name of readdirSync(tmp)) if (!programs.includes(name)) await rm(join(tmp, name), { recursive: true, force: true });
      await rm(out, { recursive: true, force: true });
      await rename(tmp, out);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return { generation, dir: out, programs, cached: false };
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
