import { stringify } from 'yaml';
import type { CaseResult, RunEvent } from '../events.js';

// TAP 14 for people's tools and CI: one subtest per suite (per kernel and suite when a run
// covers several kernels), closed with a trailing plan so results stream as they arrive.
export class TapReporter {
  private open: { label: string; count: number; failed: boolean } | null = null;
  private top = 0;
  private multiKernel = false;

  constructor(private readonly write: (text: string) => void) {}

  handle(event: RunEvent): void {
    if (event.type === 'run-start') {
      this.multiKernel = event.kernels.length > 1;
      this.write('TAP version 14\n');
    } else if (event.type === 'case-result') {
      this.result(event.result);
    } else if (event.type === 'run-end') {
      this.closeSubtest();
      this.write(`1..${this.top}\n`);
    }
  }

  private result(r: CaseResult): void {
    const label = this.multiKernel ? `${r.kernel} ${r.suite}` : r.suite;
    if (this.open?.label !== label) {
      this.closeSubtest();
      this.open = { label, count: 0, failed: false };
      this.write(`# Subtest: ${label}\n`);
    }
    const n = ++this.open.count;
    const indent = '    ';
    if (r.status === 'pass') {
      this.write(`${indent}ok ${n} - ${r.case} # time=${r.durationMs}ms\n`);
    } else if (r.status === 'skip') {
      this.write(`${indent}ok ${n} - ${r.case} # SKIP ${oneLine(r.reason ?? '')}\n`);
    } else {
      this.open.failed = true;
      this.write(`${indent}not ok ${n} - ${r.case} # time=${r.durationMs}ms\n`);
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

/** A case's splats in its YAML block: what the kernel printed, first line and call trace. */
function kernelReports(r: CaseResult): { kernel_reports?: object[] } {
  if (!r.findings?.length) return {};
  return { kernel_reports: r.findings.map((f) => ({ kind: f.kind, title: f.title, ...(f.allowed ? { allowed: f.allowed } : {}), text: f.text })) };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/#/g, '\\#');
}
