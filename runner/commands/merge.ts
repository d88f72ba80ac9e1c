import { join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { errnoText } from '../core/files.js';
import { applyExpectations } from '../expect/apply.js';
import { comparePairs } from '../model/compare.js';
import { readRun } from '../model/document.js';
import { putInOrder } from '../model/store.js';
import { summarize, verdictOf } from '../model/summary.js';
import { caseKey, type KernelRecord, type RunModel } from '../model/types.js';
import { replayEvents } from '../results/replay-events.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { claimResultsDirectory } from '../results/location.js';
import { writeReports } from '../results/final-reports.js';
import { writeRunFiles } from '../results/run-files.js';
import { refuseUnsafeOutputs } from '../results/output-paths.js';
import { copySavedRun, savedRunPlace } from '../results/own-files.js';

// `faultline merge S1 S2 ... --results OUT`: the shards of one run become one run, as if it had
// run whole: one run.json, results.tap and comparison, and each shard's own files under shard-I/.
// Shards of different plans or kernels, two shards with the same share, a share missing, or
// --results in a shard (or around one) are refused.
export async function mergeCommand(dirs: string[], flags: { results: string }): Promise<number> {
  const shards = dirs.map((dir) => ({ dir, model: readRun(dir) }));
  const merged = mergeShards(shards);
  refuseUnsafeOutputs({ files: {}, results: { path: flags.results, role: 'the merged run' }, reads: shards.map((s) => ({ path: s.dir, role: `shard ${s.model.shard!.index}/${s.model.shard!.count}` })) });
  const out = claimResultsDirectory(flags.results, new Date());
  for (const { dir, model } of shards) {
    try {
      copySavedRun(savedRunPlace(dir), join(out, `shard-${model.shard!.index}`));
    } catch (cause) {
      throw new FaultlineError('io', `cannot copy ${dir} into ${out}: ${errnoText(cause)}`, { hint: 'Choose a writable directory with --results DIR, and shards that can be read.', cause });
    }
  }
  writeRunFiles(out, merged);
  // The merged run's own report; each kernel's consoles are read from the first shard that ran it.
  await writeReports(merged, out, { github: false, annotate: () => {} });
  replayEvents(merged, (e) => terminal.handle(e), out);
  return merged.exitCode ?? 0;
}

const terminal = new TerminalReporter(process.stdout);

export function mergeShards(shards: { dir: string; model: RunModel }[]): RunModel {
  const [first] = shards;
  if (!first) throw new FaultlineError('usage', 'merge needs the shards to merge', { hint: 'faultline merge results/s1 results/s2 ... --results results/all' });
  const notShard = shards.find((s) => s.model.shard === null);
  if (notShard) throw new FaultlineError('usage', `${notShard.dir} is not a shard (it was run without --shard)`, { hint: 'Merge the directories of faultline run --shard I/N runs.' });
  const count = first.model.shard!.count;
  const plan = (m: RunModel) => JSON.stringify({ kernels: m.matrix.kernels.map((k) => [k.spec, k.role]), cases: m.matrix.cases.map(caseKey), pairs: m.matrix.pairs });
  for (const s of shards) {
    if (s.model.shard!.count !== count) throw new FaultlineError('usage', `${s.dir} is shard ${s.model.shard!.index}/${s.model.shard!.count}, and ${first.dir} is one of ${count}`, { hint: 'Merge the shards of one run: the same --shard I/N count.' });
    if (plan(s.model) !== plan(first.model)) throw new FaultlineError('usage', `${s.dir} ran a different plan from ${first.dir} (other kernels, cases or baseline)`, { hint: 'Merge the shards of one run: the same kernels, suites and cases, only --shard differing.' });
  }
  refuseDifferentKernels(shards);
  const byIndex = new Map<number, string>();
  for (const s of shards) {
    const twin = byIndex.get(s.model.shard!.index);
    if (twin) throw new FaultlineError('usage', `${twin} and ${s.dir} are both shard ${s.model.shard!.index}/${count}: their cases overlap`, { hint: 'Give each shard once.' });
    byIndex.set(s.model.shard!.index, s.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length) throw new FaultlineError('usage', `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`, { hint: 'Give every shard of the run; a merged run with a share missing would look complete and is not.' });

  const kernels: KernelRecord[] = [];
  for (const s of shards) {
    for (const k of s.model.kernels) if (!kernels.some((o) => o.id === k.id)) kernels.push({ ...k, dir: join(`shard-${s.model.shard!.index}`, k.dir) });
  }
  kernels.sort((a, b) => a.index - b.index);
  const all = <T,>(pick: (m: RunModel) => T[]): T[] => shards.flatMap((s) => pick(s.model));
  const model: RunModel = {
    ...first.model,
    startedAt: shards.map((s) => s.model.startedAt).sort()[0]!,
    finishedAt: shards.map((s) => s.model.finishedAt ?? '').sort().at(-1) || null,
    command: ['merge', ...shards.map((s) => s.dir)],
    faultline: agreed(shards.map((s) => s.model.faultline)),
    host: agreed(shards.map((s) => s.model.host)),
    shard: null,
    kernels,
    results: all((m) => m.results),
    reruns: all((m) => m.reruns),
    restarts: all((m) => m.restarts),
    reports: all((m) => m.reports),
    comparisons: [],
  };
  model.comparisons = comparePairs(model);
  const expectations = first.model.expectations;
  if (expectations) model.expectations = applyExpectations(model, { entries: expectations.entries, strict: expectations.strict, now: new Date(model.startedAt) });
  putInOrder(model);
  model.summary = summarize(model.results);
  const infrastructure = shards.find((s) => (s.model.exitCode ?? 0) > 1)?.model;
  const verdict = verdictOf(model, model.failOn);
  model.exitCode = infrastructure?.exitCode ?? verdict.exitCode;
  model.why = infrastructure ? infrastructure.why : verdict.why;
  return model;
}

// One spec can resolve to different kernels in different shard jobs (host on two machines, a
// meta package that moved on between them): merged, each would look like half a run.
function refuseDifferentKernels(shards: { dir: string; model: RunModel }[]): void {
  const seen = new Map<number, { dir: string; kernel: KernelRecord }>();
  for (const s of shards) {
    for (const kernel of s.model.kernels) {
      const first = seen.get(kernel.index);
      if (!first) seen.set(kernel.index, { dir: s.dir, kernel });
      else if (first.kernel.id !== kernel.id) {
        throw new FaultlineError('usage', `${first.dir} and ${s.dir} ran different kernels for ${s.model.matrix.kernels[kernel.index]?.spec ?? kernel.spec}: ${described(first.kernel)} and ${described(kernel)}`, {
          hint: 'Merge shards that ran the same kernels: pin each kernel to one package version or file, so that every shard job resolves it alike (host is whatever each machine runs).',
        });
      }
    }
  }
}

const described = (k: KernelRecord): string => `${k.label} (${[k.release && k.release !== k.label ? `release ${k.release}` : '', `id ${k.id}`].filter(Boolean).join(', ')})`;

/** What the shards agree on; null when they differ (each shard's own run.json under shard-I/ keeps its own). */
function agreed<T>(values: readonly T[]): T | null {
  const first = JSON.stringify(values[0] ?? null);
  return values.every((v) => JSON.stringify(v) === first) ? (values[0] ?? null) : null;
}
