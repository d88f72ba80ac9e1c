import type { RunEvent } from '../events.js';
import { caseKey, type CaseStatus, type RunModel } from '../model/types.js';
import { terminalLine } from './terminal-text.js';

export interface CaseRow {
  case: string;
  statuses: (CaseStatus | null)[];
  /** Index of the first column whose status differs from the one before it, or null. */
  firstChange: number | null;
}

// --per-patch: which patch changed which case. The columns are the matrix's kernels in order
// (the tree alone, then the tree after each patch); a row is one case's status in each, with
// the first change named. A kernel that never resolved has an empty column.
export function perPatchRows(model: RunModel): CaseRow[] {
  const columns = model.matrix.kernels.length;
  const columnOf = new Map(model.kernels.map((k) => [k.id, k.index] as const));
  const rows = new Map<string, CaseRow>(model.matrix.cases.map((c) => [caseKey(c), { case: caseKey(c), statuses: Array<CaseStatus | null>(columns).fill(null), firstChange: null }]));
  for (const r of model.results) {
    const column = columnOf.get(r.kernel);
    const row = rows.get(caseKey(r));
    if (column !== undefined && row && model.kernels.find((k) => k.id === r.kernel)?.accel !== null) row.statuses[column] = r.status;
  }
  for (const row of rows.values()) {
    const change = row.statuses.findIndex((s, i) => i > 0 && s !== row.statuses[i - 1]);
    row.firstChange = change === -1 ? null : change;
  }
  return [...rows.values()].filter((r) => r.statuses.some((s) => s !== null));
}

/** The table as text: every changed case, then a count of the unchanged ones; each line safe to
 * print (a patch's title comes from the series, perhaps from a stranger's pull request). */
export function formatPerPatch(model: RunModel, all = false): string {
  const rows = perPatchRows(model);
  const names = model.matrix.kernels.map((k, i) => (i === 0 ? 'base' : (k.title ?? k.spec)));
  const shown = all ? rows : rows.filter((r) => r.firstChange !== null);
  const short = names.map((_, i) => (i === 0 ? 'base' : `#${i}`));
  const width = Math.max(4, ...shown.map((r) => r.case.length));
  const lines = [`${'case'.padEnd(width)}  ${short.map((s) => s.padEnd(7)).join(' ')}  first change`];
  for (const row of shown) {
    const cells = row.statuses.map((s, i) => `${s ?? '-'}${row.firstChange === i ? '*' : ''}`.padEnd(7));
    lines.push(`${row.case.padEnd(width)}  ${cells.join(' ')}  ${row.firstChange === null ? '' : names[row.firstChange]}`);
  }
  const unchanged = rows.length - rows.filter((r) => r.firstChange !== null).length;
  if (!all) lines.push(`${unchanged} case${unchanged === 1 ? '' : 's'} unchanged across the series`);
  lines.push('', ...names.slice(1).map((name, i) => `#${i + 1} ${name}`));
  return `${lines.map(terminalLine).join('\n')}\n`;
}

/** Prints the table at the end of a per-patch run, and writes the full one beside the results. */
export class PerPatchReporter {
  constructor(
    private readonly write: (text: string) => void,
    private readonly writeFull: (text: string) => void,
  ) {}

  handle(event: RunEvent): void {
    if (event.type !== 'run-end' || event.model.kernels.length === 0) return;
    this.write(`\nper patch (* marks the first change):\n${formatPerPatch(event.model)}`);
    this.writeFull(formatPerPatch(event.model, true));
  }
}
