import { resolve } from 'node:path';
import { isNamedBase } from '../../kernels/source/build.js';
import { defaultKernelSpec } from '../../kernels/default.js';
import { isCommitRange } from '../../kernels/source/patches.js';
import { parseKernelSpec, type KernelSpec, type SourceSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../core/errors.js';

export interface KernelFlags {
  kernel?: string;
  tree?: string;
  patches: string[];
  config: string[];
  base?: string;
}

// `--kernel` or `--tree` + `--patches`/`--config`/`--base`, checked together so a contradiction
// is a usage error before anything is built.
export async function kernelSpecFromFlags(flags: KernelFlags): Promise<KernelSpec> {
  const sourceFlags = flags.patches.length > 0 || flags.config.length > 0 || flags.base !== undefined;
  if (flags.tree && flags.kernel) {
    throw new FaultlineError('usage', '--tree and --kernel name two different kernels', { hint: 'Give one: --tree DIR [--patches ...] or --kernel SPEC.' });
  }
  if (flags.tree) return sourceSpecFromFlags(flags);
  if (sourceFlags) {
    throw new FaultlineError('usage', '--patches, --config and --base apply to a source tree', { hint: 'Add --tree DIR (the kernel source to patch and build).' });
  }
  return parseKernelSpec(flags.kernel ?? (await defaultKernelSpec()));
}

/** --tree with its series and config. */
export async function sourceSpecFromFlags(flags: Omit<KernelFlags, 'kernel'>): Promise<SourceSpec> {
  const base = flags.base ?? 'tinyconfig';
  return {
    kind: 'source',
    tree: resolve(flags.tree!),
    patches: flags.patches.map((p) => (isCommitRange(p) ? p : resolve(p))),
    base: isNamedBase(base) ? base : resolve(base),
    fragments: flags.config.map((c) => resolve(c)),
  };
}

/** A source spec, or a usage error saying what needs one. */
export function requireSource(spec: KernelSpec, what: string): SourceSpec {
  if (spec.kind !== 'source') {
    throw new FaultlineError('usage', `${what} needs a kernel built from source`, { hint: 'Give --tree DIR --patches ... or --kernel kernels/NAME.yaml.' });
  }
  return spec;
}
