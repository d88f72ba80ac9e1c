import { resolve } from 'node:path';
import { isNamedBase } from '../../kernels/source/build.js';
import { defaultKernelSpec } from '../../kernels/default.js';
import { isCommitRange } from '../../kernels/source/patches.js';
import { parseKernelSpec, type KernelSpec, type SourceSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../core/errors.js';
import { parseImageRef } from '../../images/image-ref.js';

export interface KernelFlags {
  kernel?: string;
  tree?: string;
  patches: string[];
  config: string[];
  base?: string;
  /** `--build-image`: the image source kernels are built in (those whose definition names none). */
  buildImage?: string;
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

// `--build-image` is where every source kernel of the command is built, but a definition's own
// `build-image` is that kernel's (a matrix may pin each kernel to its toolchain). A command without
// a kernel to build has nothing to build in the image: said, not ignored.
export function withBuildImage(specs: readonly KernelSpec[], buildImage: string | undefined): KernelSpec[] {
  if (buildImage !== undefined && !specs.some((s) => s.kind === 'source')) {
    throw new FaultlineError('usage', `--build-image ${buildImage} is where kernels are built from source, and this command builds none`, { hint: 'Add --tree DIR (or --kernel kernels/NAME.yaml), or drop --build-image.' });
  }
  const built = specs.map((s) => (s.kind === 'source' && s.buildImage === undefined && buildImage !== undefined ? { ...s, buildImage } : s));
  // a name that is no image is a usage error now, not once the run has started
  for (const s of built) if (s.kind === 'source' && s.buildImage !== undefined) parseImageRef(s.buildImage, s.definition ? `${s.definition}: build-image` : '--build-image');
  return built;
}
