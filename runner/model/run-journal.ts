import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseKey, type CaseResult, type KernelRecord, type KernelReport, type Rerun, type RunModel } from './types.js';

/** The journal's name in a results directory. */
export const journalFile = 'events.jsonl';

/** run.json's member that says its results are in the journal beside it (a run not yet finished). */
export const journalMember = 'journal';

/** The journal's lines that carry what a run recorded (the events of the same names, runner/events.ts). */
export type RecordedLine =
  | { type: 'kernel-ready'; kernel: KernelRecord }
  | { type: 'case-result'; result: CaseResult }
  | { type: 'rerun-result'; rerun: Rerun }
  | { type: 'guest-restart'; kernel: string; guest: number; cases: number; reason: string }
  | { type: 'kernel-report'; kernel: string; report: KernelReport };

/** Each line of the journal in `dir`, parsed, in order; null when there is none. A line a run
 * killed mid-write left cut short ends it: what came before stands. */
export function journalLines(dir: string): { type: string }[] | null {
  const file = join(dir, journalFile);
  if (!existsSync(file)) return null;
  const lines: { type: string }[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      lines.push(JSON.parse(line) as { type: string });
    } catch {
      break;
    }
  }
  return lines;
}

// While a run goes, run.json is its head (the plan, the kernels, the host) and every result is a
// line appended to the journal, so writing a result costs its own bytes, not the whole document
// again. A run killed before its end is read back by putting the journal's results into the
// head, as the store kept them: the first result for each (kernel, case), kernels by id.
export function foldJournal(model: RunModel, dir: string): void {
  const kernels = new Set(model.kernels.map((k) => k.id));
  const results = new Set(model.results.map((r) => `${r.kernel}\0${caseKey(r)}`));
  for (const line of (journalLines(dir) ?? []) as RecordedLine[]) {
    switch (line.type) {
      case 'kernel-ready':
        if (!kernels.has(line.kernel.id)) model.kernels.push(line.kernel);
        kernels.add(line.kernel.id);
        break;
      case 'case-result': {
        const key = `${line.result.kernel}\0${caseKey(line.result)}`;
        if (!results.has(key)) model.results.push(line.result);
        results.add(key);
        break;
      }
      case 'rerun-result':
        model.reruns.push(line.rerun);
        break;
      case 'guest-restart':
        model.restarts.push({ kernel: line.kernel, guest: line.guest, cases: line.cases, reason: line.reason });
        break;
      case 'kernel-report':
        model.reports.push({ kernel: line.kernel, ...line.report });
        break;
    }
  }
}
