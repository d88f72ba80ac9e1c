import { join } from 'node:path';
import { selftestOriginOf, preparedTree, type SelftestOrigin } from '../../../kernels/selftests/origin.js';
import { selftestGeneration } from '../../../kernels/selftests/programs.js';
import type { KernelSpec } from '../../../kernels/spec.js';
import { FaultlineError } from '../../core/errors.js';
import { caseKey, type PlannedCase } from '../../model/types.js';
import { kselftestCases, kselftestInfo, type KselftestInfo } from './source.js';

/** A kernel's selftests as planned: where they come from, what they are, which of their cases run. */
export interface KselftestPlan {
  origin: SelftestOrigin;
  info: KselftestInfo;
  cases: PlannedCase[];
}

// Each kernel's selftests are read before anything boots, so the run knows its cases up front
// (a Debian tarball is unpacked into the cache for that, once). Kernels sharing an origin share
// the reading.
export async function planKselftests(kernels: readonly KernelSpec[], o: { from: string | null; cacheDir: string; only: readonly string[]; signal?: AbortSignal }): Promise<KselftestPlan[]> {
  const read = new Map<string, Promise<KselftestInfo>>();
  const plans: KselftestPlan[] = [];
  for (const spec of kernels) {
    const origin = await selftestOriginOf(spec, o.from);
    const key = `${origin.kind}:${origin.path}`;
    if (!read.has(key)) read.set(key, readInfo(origin, o.cacheDir, o.signal));
    const info = await read.get(key)!;
    const cases = kselftestCases(info).filter((c) => o.only.length === 0 || o.only.some((w) => caseKey(c).includes(w)));
    plans.push({ origin, info, cases });
  }
  return plans;
}

async function readInfo(origin: SelftestOrigin, cacheDir: string, signal?: AbortSignal): Promise<KselftestInfo> {
  const root = origin.kind === 'tarball' ? await preparedTree({ ...origin, kind: 'tarball' }, cacheDir, signal) : origin.path;
  const generation = selftestGeneration(root);
  if (!generation) {
    throw new FaultlineError('kernel', `${origin.what} has no userfaultfd selftests (${join(root, 'tools/testing/selftests')}/{vm/userfaultfd,mm/uffd-unit-tests}.c)`, {
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
