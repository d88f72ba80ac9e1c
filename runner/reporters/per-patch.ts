import type { CaseResult, CaseStatus, RunEvent } from '../events.js';

export interface PatchColumn {
  /** `base` for the tree alone, else the patch's name. */
  name: string;
}

export interface CaseRow {
  case: string;
  statuses: (CaseStatus | null)[];
  /** Index of the first column whose status differs from the one before it, or null. */
  firstChange: number | null;
}

// --per-patch: which patch changed which case. Columns are the tree alone, then the tree after
// each patch; a row is one case's status in each, with the first change named.
export function perPatchRows(columns: number, results: readonly (readonly CaseResult[])[]): CaseRow[] {
  const rows = new Map<string, CaseRow>();
  results.forEach((column, i) => {
    for (const r of column) {
      const name = `${r.suite}/${r.case}`;
      const row = rows.get(name) ?? { case: name, statuses: Array<CaseStatus | null>(columns).fill(null), firstChange: null };
      row.statuses[i] = r.status;
      rows.set(name, row);
    }
  });
  for (const row of rows.values()) {
    const change = row.statuses.findIndex((s, i) => i > 0 && s !== row.statuses[i - 1]);
    row.firstChange = change === -1 ? null : change;
  }
  return [...rows.values()];
}

/** The table as text: every changed case, then a count of the unchanged ones. */
export function formatPerPatch(columns: readonly PatchColumn[], rows: readonly CaseRow[], all = false): string {
  const shown = all ? rows : rows.filter((r) => r.firstChange !== null);
  const short = columns.map((c, i) => (i === 0 ? 'base' : `#${i}`));
  const width = Math.max(4, ...shown.map((r) => r.case.length));
  const lines = [`${'case'.padEnd(width)}  ${short.map((s) => s.padEnd(7)).join(' ')}  first change`];
  for (const row of shown) {
    const cells = row.statuses.map((s, i) => `${s ?? '-'}${row.firstChange === i ? '*' : ''}`.padEnd(7));
    lines.push(`${row.case.padEnd(width)}  ${cells.join(' ')}  ${row.firstChange === null ? '' : columns[row.firstChange]!.name}`);
  }
  const unchanged = rows.length - rows.filter((r) => r.firstChange !== null).length;
  if (!all) lines.push(`${unchanged} case${unchanged === 1 ? '' : 's'} unchanged across the series`);
  lines.push('', ...columns.slice(1).map((c, i) => `#${i + 1} ${c.name}`));
  return `${lines.join('\n')}\n`;
}

/** Collects results per kernel (kernels run one after another) and prints the table at the end. */
export class PerPatchReporter {
  private readonly results: CaseResult[][] = [];
  /** A column per kernel that booted: results of a kernel stopped before it ran have no column. */
  private readonly columnOf = new Map<string, number>();

  constructor(
    private readonly columns: readonly PatchColumn[],
    private readonly write: (text: string) => void,
    private readonly writeFull: (text: string) => void,
  ) {}

  handle(event: RunEvent): void {
    if (event.type === 'kernel-ready') {
      this.columnOf.set(event.kernel.id, this.results.length);
      this.results.push([]);
    } else if (event.type === 'case-result') {
      const column = this.columnOf.get(event.result.kernel);
      if (column !== undefined) this.results[column]!.push(event.result);
    }
    else if (event.type === 'run-end' && this.results.length > 0) {
      const rows = perPatchRows(this.columns.length, this.results);
      this.write(`\nper patch (* marks the first change):\n${formatPerPatch(this.columns, rows)}`);
      this.writeFull(formatPerPatch(this.columns, rows, true));
    }
  }
}
