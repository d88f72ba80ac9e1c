import { caseKey, type PlannedCase, type Shard } from './types.js';

/** One job of the matrix: a case on a kernel (by its position in the matrix). */
export interface Job {
  kernel: number;
  case: string;
}

// A shard's share of the (kernel, case) jobs, the same on every machine: whole kernels round
// robin when there are at least as many kernels as shards, so each shard boots only its own
// kernels; otherwise each kernel's shards split its cases into runs of neighbours, so a kernel
// is booted by as few shards as the count allows. When kernels are compared, a shard takes a run
// of cases on every kernel instead: both sides of a pair are in it, so it compares and reruns.
export function shardJobs(kernels: number, cases: readonly PlannedCase[], shard: Shard, compared = false): Job[] {
  const jobsOf = (kernel: number) => cases.map((c) => ({ kernel, case: caseKey(c) }));
  if (compared) {
    const size = Math.ceil(cases.length / shard.count);
    const mine = cases.slice((shard.index - 1) * size, shard.index * size);
    return Array.from({ length: kernels }, (_, kernel) => mine.map((c) => ({ kernel, case: caseKey(c) }))).flat();
  }
  if (kernels >= shard.count) {
    return Array.from({ length: kernels }, (_, k) => k).filter((k) => k % shard.count === shard.index - 1).flatMap(jobsOf);
  }
  // Shards 1..count are dealt to kernels in turn; kernel k gets every shard s with (s-1) % kernels === k.
  const kernel = (shard.index - 1) % kernels;
  const mine = Array.from({ length: shard.count }, (_, s) => s).filter((s) => s % kernels === kernel);
  const part = mine.indexOf(shard.index - 1);
  const all = jobsOf(kernel);
  const size = Math.ceil(all.length / mine.length);
  return all.slice(part * size, (part + 1) * size);
}

/** `--shard 2/4`, checked. */
export function parseShard(text: string): Shard | null {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) return null;
  const shard = { index: Number(match[1]), count: Number(match[2]) };
  return shard.count >= 1 && shard.index >= 1 && shard.index <= shard.count ? shard : null;
}

/** The cases each kernel (by matrix index) runs: every planned case, or this shard's share. */
export function shareOf(kernels: number, planned: readonly PlannedCase[], shard: Shard | null, compared: boolean): (kernel: number) => PlannedCase[] {
  if (!shard) return () => [...planned];
  const jobs = new Set(shardJobs(kernels, planned, shard, compared).map((j) => `${j.kernel} ${j.case}`));
  return (kernel) => planned.filter((p) => jobs.has(`${kernel} ${caseKey(p)}`));
}
