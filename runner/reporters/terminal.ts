import { kernelLabel } from '../model/summary.js';
import type { RunEvent, StageName } from '../events.js';
import { caseKey, type CaseResult, type RunModel } from '../model/types.js';
import { attentionLines } from './attention.js';
import { comparisonLines, expectationLines, matrixTable, resourceFixes, skipBreakdown, statusMarks, summaryLine } from './summary.js';
import { firstLine, terminalLine, terminalText } from './terminal-text.js';

interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  /** The terminal's width, read at each redraw (it can change while the run goes). */
  columns?: number;
}

const shownReports = 2;
const colours: Record<CaseResult['status'], number> = { pass: 32, fail: 31, skip: 33, timeout: 31, crash: 35, error: 31 };

// What a person watches: a line per stage with its time, a line per case as it finishes (named
// by kernel when there are several), and at the end what did not pass, the comparison and the
// summary. On a terminal a status line says how far the run is and which case runs; elsewhere
// (CI, pipes) every line is plain and final. What the run's data says (names, labels, reasons,
// kernel report titles, a saved run's notes) is printed as text, never as control sequences or
// CI commands, one line of a reason each (terminal-text.ts).
export class TerminalReporter {
  private readonly tty: boolean;
  private status = '';
  private timer: NodeJS.Timeout | null = null;
  private resultsDir: string | null = null;
  private model: RunModel | null = null;
  /** Cases each kernel runs here, by matrix index. */
  private share: number[] = [];
  private stage: { name: StageName; label: string | undefined; started: number } | null = null;
  private progress: { step: string; detail: string } | null = null;
  private running = new Map<string, string>();
  private done = new Map<string, number>();
  private lastNoResult: { status: CaseResult['status']; reason: string; more: number } | null = null;

  constructor(private readonly out: Output) {
    this.tty = Boolean(out.isTTY) && process.env.CI !== 'true';
  }

  handle(event: RunEvent): void {
    if (event.type === 'case-result') {
      if (this.isRepeatedNoResult(event.result)) return this.counted(event.result);
    } else if (event.type !== 'case-start' && event.type !== 'rerun-result') {
      this.flushRepeated();
      this.lastNoResult = null;
    }
    switch (event.type) {
      case 'run-start': {
        this.resultsDir = event.resultsDir;
        this.model = event.model;
        const kernels = event.model.matrix.kernels;
        const cases = event.model.matrix.cases.length;
        const mine = Math.max(0, ...event.share);
        this.share = event.share;
        const jobs = kernels.length > 1 ? `, ${event.jobs} at a time` : '';
        this.line(`faultline: ${mine < cases ? `${mine} of ` : ''}${cases} case${cases === 1 ? '' : 's'} on ${kernels.length === 1 ? kernels[0]!.spec : `${kernels.length} kernels${jobs}`}${event.model.shard ? ` (shard ${event.model.shard.index}/${event.model.shard.count})` : ''}`);
        this.startStatus();
        break;
      }
      case 'stage-start':
        this.stage = { name: event.stage, label: event.label, started: performance.now() };
        this.progress = null;
        this.startStatus();
        break;
      case 'progress':
        // Without a terminal only the step changes are worth a line; the status line shows the rest.
        if (!this.tty && this.progress?.step !== event.step) this.line(`${label(event.stage, event.label)} ${event.step}`);
        this.progress = { step: event.step, detail: event.detail };
        break;
      case 'stage-end':
        this.stage = null;
        this.line(`${label(event.stage, event.label)} ${seconds(event.ms)}${event.cached ? ' (cached)' : ''}${event.detail ? `  ${event.detail}` : ''}`);
        break;
      case 'note':
        this.line(`note: ${event.message}`);
        break;
      case 'kernel-ready':
        if (event.kernel.timeoutScale !== 1) this.line(`note: ${this.prefix(event.kernel.id)}${String(event.kernel.accel).toUpperCase()}: guest time limits x${event.kernel.timeoutScale} (--tcg-slowdown)`);
        break;
      case 'case-start':
        this.running.set(event.kernel, caseKey(event));
        break;
      case 'guest-restart':
        this.line(`guest  ${this.labelOf(event.kernel)} #${event.guest}: ${event.reason}; a fresh guest runs the ${event.cases} case${event.cases === 1 ? '' : 's'} left`);
        break;
      case 'kernel-report':
        this.line(`note: ${this.prefix(event.kernel)}kernel ${event.report.kind} while no case ran: ${event.report.title}`);
        break;
      case 'case-result':
        this.counted(event.result);
        this.emit(this.caseLine(event.result));
        this.findingLines(event.result);
        break;
      case 'rerun-result':
        this.line(`  rerun ${event.rerun.attempt}: ${statusMarks[event.rerun.status].padEnd(7)} ${this.prefix(event.rerun.kernel)}${caseKey(event.rerun)}`);
        break;
      case 'run-end':
        this.stopStatus();
        this.ending(event.model, event.ms, event.why);
        break;
      default:
        break;
    }
  }

  private ending(model: RunModel, ms: number, why: readonly string[]): void {
    // What needs attention comes last, beside the verdict, where a person looks first.
    const blocks = [matrixTable(model), ...model.comparisons.map(comparisonLines), expectationLines(model.expectations), attentionLines(model)].filter((b) => b.length > 0);
    for (const block of blocks) {
      this.line('');
      for (const l of block) this.line(l);
    }
    this.line(summaryLine(model, ms));
    const skips = skipBreakdown(model);
    if (skips) this.line(skips);
    for (const fix of resourceFixes(model)) this.line(`  ${fix}`);
    if (why.length > 0 && model.comparisons.length > 0) this.line(`exit 1: ${why.join('; ')}`);
    if (this.resultsDir) this.line(`results: ${this.resultsDir}`);
  }

  /** The mark painted, the rest made safe: it holds the case's names and its reason. */
  private caseLine(r: CaseResult): string {
    const mark = this.paint((r.expected ? `${statusMarks[r.status]}~` : statusMarks[r.status]).padEnd(7), colours[r.status]);
    const time = r.status === 'skip' ? '' : ` ${r.durationMs}ms`;
    const reason = r.reason ? `  ${firstLine(r.reason)}` : '';
    const known = r.expected ? `  (known: ${firstLine(r.expected.reason)})` : '';
    return `  ${mark} ${terminalLine(`${this.prefix(r.kernel)}${caseKey(r)}${time}${reason}${known}`)}`;
  }

  /** With several kernels, each line names its kernel. */
  private prefix(kernel: string): string {
    return (this.model?.matrix.kernels.length ?? 1) > 1 ? `${this.labelOf(kernel)}  ` : '';
  }

  private labelOf(kernel: string): string {
    return this.model ? kernelLabel(this.model, kernel) : kernel;
  }

  private counted(r: CaseResult): void {
    this.done.set(r.kernel, (this.done.get(r.kernel) ?? 0) + 1);
    if (this.running.get(r.kernel) === caseKey(r)) this.running.delete(r.kernel);
  }

  /** A run stopped early gives every case left the same reason: one line for them all. */
  private isRepeatedNoResult(r: CaseResult): boolean {
    const repeated = r.durationMs === 0 && r.reason !== null && r.reason === this.lastNoResult?.reason && r.status === this.lastNoResult.status;
    if (repeated) {
      this.lastNoResult!.more++;
      return true;
    }
    this.flushRepeated();
    this.lastNoResult = r.durationMs === 0 && r.filled !== undefined && r.reason !== null ? { status: r.status, reason: r.reason, more: 0 } : null;
    return false;
  }

  private flushRepeated(): void {
    if (!this.lastNoResult?.more) return;
    this.line(`          and ${this.lastNoResult.more} more case${this.lastNoResult.more === 1 ? '' : 's'} with the same reason`);
    this.lastNoResult.more = 0;
  }

  /** The reports the reason does not already name, a few at most: run.json has them all. */
  private findingLines(r: CaseResult): void {
    const unnamed = (r.reports ?? []).filter((f) => !r.reason?.includes(f.title));
    for (const f of unnamed.slice(0, shownReports)) this.line(`          kernel ${f.kind}: ${f.title}${f.allowed ? ` (allowed: ${f.allowed})` : ''}`);
    const more = unnamed.length - shownReports;
    if (more > 0) this.line(`          and ${more} more kernel report${more === 1 ? '' : 's'} in run.json`);
  }

  /** How far the run is: cases done of the total (per kernel when there are several), the
   * stage, and the case each kernel is running. */
  statusText(): string {
    const model = this.model;
    const parts: string[] = [];
    if (this.stage) {
      const step = this.progress ? `  ${this.progress.step}${this.progress.detail ? ` ${this.progress.detail}` : ''}` : '';
      parts.push(`${label(this.stage.name, this.stage.label)} ${seconds(performance.now() - this.stage.started)}${step}`);
    }
    if (model) {
      const kernels = model.matrix.kernels.length;
      const done = [...this.done.values()].reduce((a, b) => a + b, 0);
      const total = this.share.reduce((a, b) => a + b, 0);
      parts.push(kernels > 1 ? `${done}/${total} cases (${model.kernels.map((k) => `${k.label} ${this.done.get(k.id) ?? 0}/${this.share[k.index] ?? 0}`).join(', ')})` : `${done}/${total} cases`);
      const running = [...this.running].map(([k, c]) => `${kernels > 1 ? `${this.labelOf(k)}: ` : ''}${c}`);
      if (running.length) parts.push(`running ${running.join(', ')}`);
    }
    return parts.join('  |  ');
  }

  private startStatus(): void {
    if (!this.tty || this.timer) return;
    const draw = () => {
      this.clearStatus();
      this.status = fitWidth(terminalText(this.statusText()), this.width());
      if (this.status) this.out.write(this.paint(this.status, 2));
    };
    draw();
    this.timer = setInterval(draw, 200);
    this.timer.unref();
  }

  private stopStatus(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clearStatus();
  }

  // The status line is kept one column short of the width, so it never wraps; if the terminal
  // narrowed since it was drawn, it did wrap, and every row it took is erased.
  private clearStatus(): void {
    if (this.status) this.out.write(`\r\x1b[2K${'\x1b[1A\x1b[2K'.repeat(Math.ceil([...this.status].length / this.width()) - 1)}`);
    this.status = '';
  }

  private width(): number {
    const columns = this.out.columns;
    return columns && columns > 1 ? columns : 80;
  }

  /** A plain line, made safe to print. */
  private line(text: string): void {
    this.emit(terminalLine(text));
  }

  /** A line already safe to print, under the status line (which is drawn again below it). */
  private emit(text: string): void {
    const redraw = this.status;
    this.clearStatus();
    this.out.write(`${text}\n`);
    if (redraw) {
      this.status = redraw;
      this.out.write(this.paint(redraw, 2));
    }
  }

  private paint(text: string, code: number): string {
    return this.tty ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

function label(stage: StageName, kernel: string | undefined): string {
  return kernel ? `${stage.padEnd(6)} ${kernel}` : stage.padEnd(6);
}

/** At most `width - 1` characters, so a line never reaches the last column and wraps. */
export function fitWidth(text: string, width: number): string {
  const chars = [...text];
  const room = Math.max(1, width - 1);
  return chars.length <= room ? text : `${chars.slice(0, room - 1).join('')}…`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
