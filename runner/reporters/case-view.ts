import { isAbsolute, relative } from 'node:path';
import { projectRoot } from '../core/paths.js';
import { caseKey, type CaseRef, type CaseResult, type ComparisonClass, type KernelRecord, type RunModel } from '../model/types.js';

/** The console lines a case printed, by kernel id and case; null when none were saved. */
export type CaseConsoles = (kernel: string, ref: CaseRef) => string | null;

/** One result as the reports show it: with its kernel, where its case is written, its class. */
export interface CaseView {
  result: CaseResult;
  kernel: KernelRecord | undefined;
  label: string;
  /** The suite file, relative to the project (suites/minor-faults.yaml) or to where faultline runs. */
  file: string | null;
  line: number | null;
  /** Its class in a comparison where this kernel is the one compared, if any. */
  comparison: ComparisonClass | null;
  console: string | null;
}

/** A path as a person and a CI annotation want it: on GitHub relative to the workspace (the
 * runner places annotations there), else the project's own suites by their place in it, others
 * relative to where faultline runs when they are below it. */
export function displayPath(file: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const base of [env.GITHUB_WORKSPACE, projectRoot, process.cwd()]) {
    if (!base) continue;
    const rel = relative(base, file);
    if (!rel.startsWith('..') && !isAbsolute(rel)) return rel;
  }
  return file;
}

export function caseViews(model: RunModel, consoles: CaseConsoles | null): CaseView[] {
  const where = new Map(model.matrix.cases.map((c) => [caseKey(c), c] as const));
  return model.results.map((result) => {
    const kernel = model.kernels.find((k) => k.id === result.kernel);
    const planned = where.get(caseKey(result));
    const compared = model.comparisons.find((c) => c.candidate.id === result.kernel)?.cases.find((c) => caseKey(c) === caseKey(result));
    return {
      result,
      kernel,
      label: kernel?.label ?? result.kernel,
      file: planned?.file ? displayPath(planned.file) : null,
      line: planned?.line ?? null,
      comparison: compared?.class ?? null,
      console: consoles?.(result.kernel, result) ?? null,
    };
  });
}

/** A case's kernel reports as text: each report's first line, then its text. */
export function reportsText(result: CaseResult): string {
  return (result.reports ?? []).map((f) => `${f.allowed ? `[allowed: ${f.allowed}] ` : ''}${f.text}`).join('\n\n');
}

/** What a selftest reported as its own tests, one line each: "zeropage: pass". */
export function subtestsText(result: CaseResult): string {
  return (result.subtests ?? []).map((s) => `${s.name}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`).join('\n');
}
