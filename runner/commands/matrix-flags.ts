import { describeDropped, expandDebianGlob } from '../../kernels/debian-glob.js';
import { loadPatchSeries } from '../../kernels/source/patches.js';
import { formatKernelSpec, parseKernelSpec, type KernelSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../core/errors.js';
import { cacheDir } from '../core/paths.js';
import type { MatrixEntry } from '../run.js';
import { GlobDownloads } from './glob-downloads.js';
import { kernelSpecFromFlags, requireSource, sourceSpecFromFlags, type KernelFlags } from './kernel-flags.js';

export interface MatrixFlags extends Omit<KernelFlags, 'kernel'> {
  kernel: string[];
  /** true: the tree without the series; a string: any kernel spec. */
  baseline?: string | boolean;
  perPatch?: boolean;
  /** Download whatever the debian: globs name, however many packages. */
  yes?: boolean;
}

export interface Matrix {
  kernels: MatrixEntry[];
  /** Baseline first: which kernel each comparison holds against which. */
  pairs: [number, number][];
}

// The kernels a run covers, from the command line: each --kernel (a debian: glob becomes every
// package that matches), the --tree build, the baseline first when there is one, or the tree
// after each patch for --per-patch. Said up front, checked before anything is built.
export async function kernelMatrix(flags: MatrixFlags, note: (message: string) => void): Promise<Matrix> {
  const downloads = new GlobDownloads(cacheDir(), Boolean(flags.yes));
  const specs: KernelSpec[] = [];
  for (const text of flags.kernel) specs.push(...(await expand(text, note, downloads)));
  const source = flags.tree ? await sourceSpecFromFlags(flags) : null;
  if (!flags.tree && (flags.patches.length > 0 || flags.config.length > 0 || flags.base !== undefined)) {
    throw new FaultlineError('usage', '--patches, --config and --base apply to a source tree', { hint: 'Add --tree DIR (the kernel source to patch and build).' });
  }
  if (flags.perPatch) {
    if (flags.baseline) throw new FaultlineError('usage', '--per-patch compares each patch with the tree before it already; --baseline adds nothing', { hint: 'Drop --baseline, or --per-patch.' });
    if (specs.length + (source ? 1 : 0) > 1) throw new FaultlineError('usage', '--per-patch runs one tree patch by patch; it takes no other kernels', { hint: 'Give one --tree (or one --kernel kernels/NAME.yaml), without other --kernel.' });
    const tree = requireSource(source ?? specs[0] ?? (await kernelSpecFromFlags({ ...flags, kernel: undefined })), '--per-patch');
    const series = await loadPatchSeries(tree.patches, tree.tree);
    if (series.length === 0) throw new FaultlineError('usage', '--per-patch needs a patch series', { hint: 'Add --patches FILE|DIR|MBOX|SERIES.' });
    const kernels = [0, ...series.map((_, i) => i + 1)].map((take): MatrixEntry => ({ spec: { ...tree, take }, role: null, ...(take > 0 ? { title: series[take - 1]!.name } : {}) }));
    return { kernels, pairs: kernels.slice(1).map((_, i) => [i, i + 1]) };
  }
  if (source) specs.push(source);
  if (specs.length === 0) specs.push(await kernelSpecFromFlags({ ...flags, kernel: undefined }));
  if (!flags.baseline) return { kernels: specs.map((spec) => ({ spec, role: null })), pairs: [] };

  let baseline: KernelSpec;
  if (flags.baseline === true) {
    if (!source || source.patches.length === 0) {
      throw new FaultlineError('usage', '--baseline alone means the tree without its series, and there is no series', { hint: 'Give --tree DIR --patches SERIES --baseline, or name the baseline: --baseline SPEC.' });
    }
    baseline = { ...source, take: 0 };
  } else {
    const found = await expand(flags.baseline, note, downloads);
    if (found.length !== 1) throw new FaultlineError('usage', `--baseline ${flags.baseline} names ${found.length} kernels; a baseline is one`, { hint: 'Name one package, or compare a matrix against one kernel.' });
    baseline = found[0]!;
  }
  // Compared with itself no case can regress: the run would pass whatever the kernel did.
  if (specs.some((spec) => JSON.stringify(spec) === JSON.stringify(baseline))) {
    throw new FaultlineError('usage', `--baseline ${formatKernelSpec(baseline)} is also a kernel under test: compared with itself, no case can regress`, {
      hint: 'Give --baseline the kernel the change is measured against, or drop --baseline to run the kernel alone.',
    });
  }
  const kernels: MatrixEntry[] = [{ spec: baseline, role: 'baseline' }, ...specs.map((spec): MatrixEntry => ({ spec, role: 'candidate' }))];
  return { kernels, pairs: specs.map((_, i) => [0, i + 1]) };
}

async function expand(text: string, note: (message: string) => void, downloads: GlobDownloads): Promise<KernelSpec[]> {
  const glob = /^debian:(.*[*?].*)$/.exec(text.trim())?.[1];
  if (!glob) return [parseKernelSpec(text)];
  const found = await expandDebianGlob(glob);
  const names = found.packages;
  note(`debian:${glob} matches ${names.length} package${names.length === 1 ? '' : 's'}: ${names.join(', ')}`);
  const dropped = describeDropped(found);
  if (dropped) note(dropped);
  await downloads.add(found);
  return names.map((name) => parseKernelSpec(`debian:${name}`));
}

