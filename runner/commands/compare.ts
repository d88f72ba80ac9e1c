import { FaultlineError } from '../core/errors.js';
import { writeUserFile } from '../core/files.js';
import { compareKernels } from '../model/compare.js';
import { readRun } from '../model/document.js';
import { defaultFailOn } from '../model/summary.js';
import type { CaseResult, Comparison, KernelRecord, RunModel } from '../model/types.js';
import { unfinishedResults } from '../model/unfinished.js';
import { comparisonLines } from '../reporters/summary.js';
import { terminalText } from '../reporters/terminal-text.js';
import { refuseUnsafeOutputs } from '../results/output-paths.js';
import { parseFailOn } from './run.js';

// `faultline compare A B`: two saved runs, case by case, kernel by kernel (the only kernel of
// each, or kernels of the same label). Exit 1 when a class in --fail-on occurs.
export async function compareCommand(baselinePath: string, candidatePath: string, flags: { failOn?: string; json?: string }): Promise<number> {
  const failOn = flags.failOn === undefined ? defaultFailOn : parseFailOn(flags.failOn);
  refuseUnsafeOutputs({ files: { '--json': flags.json }, reads: [{ path: baselinePath, role: 'the baseline' }, { path: candidatePath, role: 'the candidate' }] });
  const [a, b] = [readRun(baselinePath), readRun(candidatePath)];
  const pairs = pairKernels(a, b);
  if (pairs.length === 0) {
    throw new FaultlineError('usage', `${baselinePath} and ${candidatePath} share no kernel to compare (by label: ${terminalText(a.kernels.map((k) => k.label).join(', '))} against ${terminalText(b.kernels.map((k) => k.label).join(', '))})`, {
      hint: 'Compare runs of one kernel each, or matrices run on the same kernels.',
    });
  }
  const comparisons = pairs.map(([kb, kc]) => compareRuns(a, kb, b, kc));
  for (const c of comparisons) process.stdout.write(`${comparisonLines(c).join('\n')}\n`);
  if (flags.json) writeUserFile(flags.json, `${JSON.stringify({ baseline: baselinePath, candidate: candidatePath, comparisons }, null, 2)}\n`);
  // A run that never finished did not test what it left: those cases compare as errors, and
  // the comparison fails whatever --fail-on names.
  const unfinished = ([[baselinePath, a], [candidatePath, b]] as const).map(([path, m]) => [path, unfinishedResults(m).length] as const).filter(([, n]) => n > 0);
  for (const [path, n] of unfinished) process.stdout.write(`${path}: the run did not finish; its ${n} case${n === 1 ? '' : 's'} without a result compare as errors\n`);
  return unfinished.length > 0 || comparisons.some((c) => failOn.some((cls) => c.counts[cls] > 0)) ? 1 : 0;
}

/** One kernel each: those two; otherwise the kernels whose labels match. */
function pairKernels(a: RunModel, b: RunModel): [KernelRecord, KernelRecord][] {
  if (a.kernels.length === 1 && b.kernels.length === 1) return [[a.kernels[0]!, b.kernels[0]!]];
  return a.kernels.flatMap((k): [KernelRecord, KernelRecord][] => {
    const other = b.kernels.find((o) => o.label === k.label);
    return other ? [[k, other]] : [];
  });
}

// The same kernel can be in both runs: its results are told apart by the run they come from.
function compareRuns(a: RunModel, ka: KernelRecord, b: RunModel, kb: KernelRecord): Comparison {
  const tag = (run: string, k: KernelRecord): KernelRecord => ({ ...k, id: `${run}:${k.id}` });
  const of = (run: string, model: RunModel, k: KernelRecord): CaseResult[] => model.results.filter((r) => r.kernel === k.id).map((r) => ({ ...r, kernel: `${run}:${k.id}` }));
  const reruns = [...a.reruns.filter((r) => r.kernel === ka.id).map((r) => ({ ...r, kernel: `a:${ka.id}` })), ...b.reruns.filter((r) => r.kernel === kb.id).map((r) => ({ ...r, kernel: `b:${kb.id}` }))];
  const comparison = compareKernels({ baseline: tag('a', ka), candidate: tag('b', kb), results: [...of('a', a, ka), ...of('b', b, kb)], reruns, order: a.matrix.cases });
  return { ...comparison, baseline: { id: ka.id, label: ka.label }, candidate: { id: kb.id, label: kb.label } };
}
