import { kernelLabel } from '../model/summary.js';
import { stringify } from 'yaml';
import type { RunEvent } from '../events.js';
import type { CaseResult, RunModel } from '../model/types.js';

// TAP 14 for people's tools and CI: one subtest per suite (per kernel and suite when a run
// covers several kernels), closed with a trailing plan so results stream as they arrive. When
// kernels run side by side their results interleave, so each kernel's are held until it is done.
export class TapReporter {
  private open: { label: string; count: number; failed: boolean } | null = null;
  private top = 0;
  private model: RunModel | null = null;
  private held: Map<string, CaseResult[]> | null = null;

  constructor(private readonly write: (text: string) => void) {}

  handle(event: RunEvent): void {
    if (event.type === 'run-start') {
      this.model = event.model;
      if (event.jobs > 1 && event.model.matrix.kernels.length > 1) this.held = new Map();
      this.write('TAP version 14\n');
    } else if (event.type === 'case-result') {
      if (!this.held) return this.result(event.result);
      const list = this.held.get(event.result.kernel) ?? [];
      list.push(event.result);
      this.held.set(event.result.kernel, list);
    } else if (event.type === 'kernel-end') {
      this.release(event.kernel);
    } else if (event.type === 'run-end') {
      for (const kernel of [...(this.held?.keys() ?? [])]) this.release(kernel);
      this.closeSubtest();
      this.write(`1..${this.top}\n`);
    }
  }

  private release(kernel: string): void {
    const list = this.held?.get(kernel);
    if (!list) return;
    this.held!.delete(kernel);
    for (const r of list) this.result(r);
  }

  private result(r: CaseResult): void {
    const kernels = this.model?.matrix.kernels.length ?? 1;
    const label = kernels > 1 ? `${this.model ? kernelLabel(this.model, r.kernel) : r.kernel} ${r.suite}` : r.suite;
    if (this.open?.label !== label) {
      this.closeSubtest();
      this.open = { label, count: 0, failed: false };
      this.write(`# Subtest: ${label}\n`);
    }
    const open = this.open!;
    const n = ++open.count;
    const indent = '    ';
    if (r.subtests?.length) this.write(subtestBlock(r, indent));
    if (r.status === 'pass') {
      this.write(`${indent}ok ${n} - ${r.case} # time=${r.durationMs}ms\n`);
    } else if (r.status === 'skip') {
      this.write(`${indent}ok ${n} - ${r.case} # SKIP ${oneLine(r.reason ?? '')}\n`);
    } else {
      // A failure an expectation accepts is TAP's TODO: not ok, and not failing the run.
      if (!r.expected) open.failed = true;
      this.write(`${indent}not ok ${n} - ${r.case} # ${r.expected ? `TODO ${oneLine(r.expected.reason)}` : `time=${r.durationMs}ms`}\n`);
      const diag = stringify({ status: r.status, reason: r.reason ?? '', ...kernelReports(r) }, { lineWidth: 0 }).trimEnd();
      this.write(`${indent}  ---\n${diag.replace(/^/gm, `${indent}  `)}\n${indent}  ...\n`);
    }
  }

  private closeSubtest(): void {
    if (!this.open) return;
    this.top += 1;
    this.write(`    1..${this.open.count}\n${this.open.failed ? 'not ok' : 'ok'} ${this.top} - ${this.open.label}\n`);
    this.open = null;
  }
}

// What a selftest printed as its own tests, nested under the case (TAP 14 subtests), before it.
function subtestBlock(r: CaseResult, indent: string): string {
  const inner = `${indent}    `;
  const lines = [`${indent}# Subtest: ${r.case}`];
  r.subtests!.forEach((s, i) => {
    const reason = oneLine(s.reason ?? '');
    if (s.status === 'pass') lines.push(`${inner}ok ${i + 1} - ${s.name}`);
    else if (s.status === 'skip') lines.push(`${inner}ok ${i + 1} - ${s.name} # SKIP ${reason}`);
    else lines.push(`${inner}not ok ${i + 1} - ${s.name}`, `${inner}  ---`, ...stringify({ status: s.status, reason }, { lineWidth: 0 }).trimEnd().split('\n').map((l) => `${inner}  ${l}`), `${inner}  ...`);
  });
  lines.push(`${inner}1..${r.subtests!.length}`);
  return `${lines.join('\n')}\n`;
}

/** A case's kernel reports in its YAML block: what the kernel printed, first line and call trace. */
function kernelReports(r: CaseResult): { kernel_reports?: object[] } {
  if (!r.reports?.length) return {};
  return { kernel_reports: r.reports.map((f) => ({ kind: f.kind, title: f.title, ...(f.allowed ? { allowed: f.allowed } : {}), text: f.text })) };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/#/g, '\\#');
}
