import { join } from 'node:path';
import { selftestOriginOf, preparedTree, type SelftestOrigin } from '../../../kernels/selftests/origin.js';
import { listPatches, readAfterSeries } from '../../../kernels/selftests/list-files.js';
import { selftestGeneration } from '../../../kernels/selftests/programs.js';
import { loadPatchSeries, type Patch } from '../../../kernels/source/patches.js';
import { sourceSeries, type SourceSeries } from '../../../kernels/source/series-of.js';
import type { KernelSpec } from '../../../kernels/spec.js';
import { FaultlineError } from '../../core/errors.js';
import { hashParts } from '../../core/hash.js';
import { caseKey, type PlannedCase } from '../../model/types.js';
import { kselftestCases, kselftestInfo, type KselftestInfo } from './source.js';

/** A kernel's selftests as planned: where they come from, what they are, which of their cases run. */
export interface KselftestPlan {
  origin: SelftestOrigin;
  info: KselftestInfo;
  cases: PlannedCase[];
}

// Each kernel's selftests are read before anything boots, so the run knows its cases up front
// (a Debian tarball is unpacked into the cache for that, once). A source kernel's are read from
// its tree as its own series leaves it (with --per-patch, each kernel's prefix of it), since that
// is what is built and run: a test the series adds is planned, one it removes is not. Kernels
// whose lists come out of the same files share the reading.
export async function planKselftests(kernels: readonly KernelSpec[], o: { from: string | null; cacheDir: string; only: readonly string[]; signal?: AbortSignal }): Promise<KselftestPlan[]> {
  const read = new Map<string, Promise<KselftestInfo>>();
  const loaded = new Map<string, Promise<Patch[]>>();
  const load = (inputs: readonly string[], tree: string) => {
    const key = JSON.stringify([tree, inputs]);
    if (!loaded.has(key)) loaded.set(key, loadPatchSeries(inputs, tree));
    return loaded.get(key)!;
  };
  const plans: KselftestPlan[] = [];
  for (const spec of kernels) {
    const origin = await selftestOriginOf(spec, o.from);
    const series = origin.kind === 'source' && spec.kind === 'source' ? await sourceSeries(spec, o.cacheDir, load) : null;
    const key = series ? `source:${series.base}:${hashParts(listPatches(series.patches).flatMap((p) => [String(p.strip ?? 1), p.text]))}` : `${origin.kind}:${origin.path}`;
    if (!read.has(key)) read.set(key, series ? readSourceInfo(origin, series, o.signal) : readInfo(origin, o.cacheDir, o.signal));
    const info = series?.patches.length ? { ...(await read.get(key)!), what: `${origin.what} + ${series.patches.length} patch${series.patches.length === 1 ? '' : 'es'}` } : await read.get(key)!;
    const cases = kselftestCases(info).filter((c) => o.only.length === 0 || o.only.some((w) => caseKey(c).includes(w)));
    plans.push({ origin, info, cases });
  }
  return plans;
}

async function readInfo(origin: SelftestOrigin, cacheDir: string, signal?: AbortSignal): Promise<KselftestInfo> {
  const root = origin.kind === 'tarball' ? await preparedTree({ ...origin, kind: 'tarball' }, cacheDir, signal) : origin.path;
  return infoAt(root, origin, root);
}

// A series that does not apply fails that kernel's build with the same error; until then its list
// is the tree's own.
async function readSourceInfo(origin: SelftestOrigin, series: SourceSeries, signal?: AbortSignal): Promise<KselftestInfo> {
  try {
    return await readAfterSeries(series.base, series.patches, (root) => infoAt(root, origin, series.base), signal);
  } catch (error) {
    if (error instanceof FaultlineError && error.kind === 'build') return infoAt(series.base, origin, series.base);
    throw error;
  }
}

/** `shown`: the tree as people know it (`root` may be a patched copy of a few of its files). */
function infoAt(root: string, origin: SelftestOrigin, shown: string): KselftestInfo {
  const generation = selftestGeneration(root);
  if (!generation) {
    throw new FaultlineError('kernel', `${origin.what} has no userfaultfd selftests (${join(shown, 'tools/testing/selftests')}/{vm/userfaultfd,mm/uffd-unit-tests}.c)`, {
      hint: 'Give --selftests-from a Linux tree from 4.11 on.',
    });
  }
  return kselftestInfo(root, generation, origin.what);
}

/** Every kernel's cases, each once, in the order the kernels list them. */
export function kselftestPlanned(plans: readonly KselftestPlan[]): PlannedCase[] {
  const seen = new Map<string, PlannedCase>();
  for (const plan of plans) for (const c of plan.cases) if (!seen.has(caseKey(c))) seen.set(caseKey(c), c);
  return [...seen.values()];
}
