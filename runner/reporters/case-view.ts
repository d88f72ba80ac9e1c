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

// Each result's kernel, place and class found by key, not by search: a report of 50k results
// is linear in them.
export function caseViews(model: RunModel, consoles: CaseConsoles | null): CaseView[] {
  const where = new Map(model.matrix.cases.map((c) => [caseKey(c), c] as const));
  const kernels = new Map(model.kernels.map((k) => [k.id, k] as const));
  const classes = comparedClasses(model);
  const shownPaths = new Map<string, string>();
  const display = (file: string): string => {
    let shown = shownPaths.get(file);
    if (shown === undefined) shownPaths.set(file, (shown = displayPath(file)));
    return shown;
  };
  return model.results.map((result) => {
    const kernel = kernels.get(result.kernel);
    const planned = where.get(caseKey(result));
    return {
      result,
      kernel,
      label: kernel?.label ?? result.kernel,
      file: planned?.file ? display(planned.file) : null,
      line: planned?.line ?? null,
      comparison: classes.get(`${result.kernel}\0${caseKey(result)}`) ?? null,
      console: consoles?.(result.kernel, result) ?? null,
    };
  });
}

/** Each case's class, by the compared kernel's id and the case: the first comparison that holds it. */
function comparedClasses(model: RunModel): Map<string, ComparisonClass> {
  const classes = new Map<string, ComparisonClass>();
  const seen = new Set<string>();
  for (const comparison of model.comparisons) {
    // A kernel compared twice takes its first comparison's classes.
    if (seen.has(comparison.candidate.id)) continue;
    seen.add(comparison.candidate.id);
    for (const c of comparison.cases) {
      const key = `${comparison.candidate.id}\0${caseKey(c)}`;
      if (!classes.has(key)) classes.set(key, c.class);
    }
  }
  return classes;
}

/** A case's kernel reports as text: each report's first line, then its text. */
export function reportsText(result: CaseResult): string {
  return (result.reports ?? []).map((f) => `${f.allowed ? `[allowed: ${f.allowed}] ` : ''}${f.text}`).join('\n\n');
}

/** What a selftest reported as its own tests, one line each: "zeropage: pass". */
export function subtestsText(result: CaseResult): string {
  return (result.subtests ?? []).map((s) => `${s.name}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`).join('\n');
}
