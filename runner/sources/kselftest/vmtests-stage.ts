import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltSelftests } from '../../../kernels/selftests/programs.js';
import { hashParts } from '../../core/hash.js';
import type { KselftestSizes } from './sizes.js';

/** Which program run_vmtests.sh gives its stress sizes to. */
const stressProgram = { 'vm-userfaultfd': 'userfaultfd', 'mm-uffd': 'uffd-stress' } as const;

/** The tree's stress program, beside the wrapper that takes its name. */
export const asBuiltSuffix = '.as-built';

const stageFormat = 'faultline-vmtests-stage-1';

// run_vmtests.sh has its stress sizes written in (`anon 20 16`, half the huge pages, 32 bounces),
// and takes them from no variable or argument; under TCG they take many minutes. The script runs
// unchanged, and when the run's sizes are not the script's, the stress program it calls is a
// wrapper of that name that passes the type and any file on and puts the run's MiB and bounces in
// place of the script's, as faultline's own runs of the programs use, saying so in the output.
export async function stageVmtests(built: BuiltSelftests, sizes: KselftestSizes, cacheDir: string): Promise<string> {
  if (sizes.mib === null && sizes.bounces === null) return built.dir;
  const program = stressProgram[built.generation];
  const script = wrapper(program, sizes);
  const out = join(cacheDir, 'selftests', 'vmtests', hashParts([stageFormat, built.dir, script]));
  if (existsSync(join(out, program))) return out;
  await mkdir(join(out, '..'), { recursive: true });
  const tmp = await mkdtemp(`${out}.tmp-`);
  try {
    for (const name of await readdir(built.dir)) await copyFile(join(built.dir, name), join(tmp, name === program ? `${name}${asBuiltSuffix}` : name));
    await writeFile(join(tmp, program), script, { mode: 0o755 });
    await rm(out, { recursive: true, force: true });
    // Another run may have staged the same meanwhile: either copy is the same.
    await rename(tmp, out).catch((error: unknown) => {
      if (!existsSync(join(out, program))) throw error;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return out;
}

function wrapper(program: string, sizes: KselftestSizes): string {
  // A hugetlb run maps a source and a destination area: twice the MiB, at least 8, as faultline's own runs do.
  const mib = sizes.mib === null ? '"$2"' : `${sizes.mib}`;
  const hugetlbMib = sizes.mib === null ? '"$2"' : `${Math.max(sizes.mib, 4) * 2}`;
  const bounces = sizes.bounces === null ? '"$3"' : `${sizes.bounces}`;
  return [
    '#!/bin/bash',
    "# faultline: run_vmtests.sh's call of the tree's program, with faultline's stress sizes (smaller under",
    '# TCG, or --kselftest-mib/--kselftest-bounces) in place of the sizes written in the script.',
    `case "$1" in hugetlb*) mib=${hugetlbMib} ;; *) mib=${mib} ;; esac`,
    `bounces=${bounces}`,
    `echo "faultline: $0 $* runs with faultline's sizes: $0 $1 $mib $bounces\${4:+ $4}" >&2`,
    `exec -a "$0" "./${program}${asBuiltSuffix}" "$1" "$mib" "$bounces" "\${@:4}"`,
    '',
  ].join('\n');
}
