import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultlineError } from '../../runner/core/errors.js';
import { hashParts } from '../../runner/core/hash.js';
import { compilerVersion } from '../../runner/core/tools.js';
import { runMake } from '../source/make.js';

// The kernel's own userfaultfd selftests, as its tree has them: up to 6.3 one program,
// tools/testing/selftests/vm/userfaultfd; from 6.4 tools/testing/selftests/mm/uffd-unit-tests
// and uffd-stress. Built statically through the tree's own Makefile (the file lists differ
// between versions) against the tree's UAPI headers, cached by their inputs.
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

// Builds the selftest programs of a prepared tree (its Makefile, static, against `headers` or the
// tree's own usr/include) into the cache, keyed by their sources, the headers and the compiler.
export async function buildSelftests(root: string, opts: { cacheDir: string; headers?: string | null; signal?: AbortSignal }): Promise<BuiltSelftests> {
  const generation = selftestGeneration(root);
  if (!generation) throw new FaultlineError('kernel', `${root} has no userfaultfd selftests (tools/testing/selftests/{vm/userfaultfd,mm/uffd-unit-tests}.c)`, { hint: 'Give --selftests-from a Linux tree from 4.11 on.' });
  const { dir, programs } = selftestTargets[generation];
  const testDir = join(root, dir);
  const headers = opts.headers ?? join(root, 'usr', 'include');
  const sources = readdirSync(testDir).filter((f) => /^(uffd|userfaultfd|vm_util)[\w-]*\.[ch]$|^Makefile$/.test(f)).sort();
  const key = hashParts([
    'faultline-selftests-1',
    generation,
    ...sources.flatMap((f) => [f, readFileSync(join(testDir, f))]),
    readFileSync(join(headers, 'linux', 'userfaultfd.h')),
    await compilerVersion(),
  ]);
  const out = join(opts.cacheDir, 'selftests', 'built', key);
  if (programs.every((p) => existsSync(join(out, p)))) return { generation, dir: out, programs, cached: true };
  const log = join(opts.cacheDir, 'selftests', `${key}.log`);
  await mkdir(join(opts.cacheDir, 'selftests', 'built'), { recursive: true });
  await writeFile(log, '');
  // OUTPUT= puts the objects and programs beside the cache entry, not in the tree.
  const tmp = await mkdtemp(`${out}.tmp-`);
  try {
    const made = await runMake(['-C', testDir, 'LDFLAGS=-static', `KHDR_INCLUDES=-isystem ${headers}`, `OUTPUT=${tmp}`, ...programs.map((p) => join(tmp, p))], {
      cwd: testDir,
      logPath: log,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (made.aborted) opts.signal?.throwIfAborted();
    if (made.exitCode !== 0) {
      const first = (await readFile(log, 'utf8')).split('\n').find((l) => /error/i.test(l)) ?? 'make failed';
      throw new FaultlineError('build', `the userfaultfd selftests do not build: ${first.trim()}`, { where: log, hint: `See ${log}; the selftests are built with LDFLAGS=-static through ${dir}/Makefile.` });
    }
    for (const name of readdirSync(tmp)) if (!programs.includes(name)) await rm(join(tmp, name), { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { generation, dir: out, programs, cached: false };
}
