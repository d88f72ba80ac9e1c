import { execa } from 'execa';
import { FaultlineError } from '../../runner/core/errors.js';
import { requireTool } from '../../runner/core/tools.js';
import type { BuildEnv } from '../../runner/core/engine/build-env.js';

// What a kernel build needs from the host, checked up front so a missing package is named with
// its apt-get line instead of surfacing as a failure deep in the build log.
const programs: ReadonlyArray<readonly [string, string]> = [
  ['make', 'make'],
  ['gcc', 'gcc'],
  ['git', 'git'],
  ['flex', 'flex'],
  ['bison', 'bison'],
  ['bc', 'bc'],
  ['perl', 'perl'],
];

const headers: ReadonlyArray<readonly [string, string]> = [
  ['libelf.h', 'libelf-dev'],
  ['openssl/opensslv.h', 'libssl-dev'],
];

export async function requireKernelBuildTools(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  for (const [command, pkg] of programs) await requireTool(command, pkg, env);
  for (const [header, pkg] of headers) {
    const probe = await execa('gcc', ['-E', '-x', 'c', '-', '-o', '/dev/null'], { input: `#include <${header}>\n`, reject: false, env });
    if (probe.exitCode !== 0) {
      throw new FaultlineError('tool', `the kernel build needs <${header}>, which gcc cannot find`, { hint: `apt-get install ${pkg}` });
    }
  }
}


// In a build image make, gcc and the libraries are the image's; the host only applies the series
// (git apply) and copies files.
export async function requireBuildEnvTools(env: BuildEnv): Promise<void> {
  if (env.kind === 'host') await requireKernelBuildTools();
  else await requireTool('git', 'git');
}
