import type { CaseResult, RunEvent, StageName } from '../events.js';
import { summarize } from '../results/run-document.js';

interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

const marks: Record<CaseResult['status'], string> = { pass: 'ok', fail: 'FAIL', skip: 'skip', timeout: 'TIMEOUT', crash: 'CRASH', error: 'ERROR' };
const shownFindings = 2;
const colours: Record<CaseResult['status'], number> = { pass: 32, fail: 31, skip: 33, timeout: 31, crash: 35, error: 31 };

// What a person watches: a line per stage with its time, a line per case as it finishes, a
// summary. On a terminal the current stage stays on a status line that is redrawn; elsewhere
// (CI, pipes) every line is plain and final.
export class TerminalReporter {
  private readonly tty: boolean;
  private status = '';
  private timer: NodeJS.Timeout | null = null;
  private stageStarted = 0;
  private resultsDir: string | null = null;
  private progress: { step: string; detail: string } | null = null;
  private lastNoResult: { status: CaseResult['status']; reason: string; more: number } | null = null;

  constructor(private readonly out: Output) {
    this.tty = Boolean(out.isTTY) && process.env.CI !== 'true';
  }

  handle(event: RunEvent): void {
    if (event.type === 'case-result') {
      if (this.isRepeatedNoResult(event.result)) return;
    } else {
      this.flushRepeated();
      this.lastNoResult = null;
    }
    switch (event.type) {
      case 'run-start':
        this.resultsDir = event.resultsDir;
        this.line(`faultline: ${event.cases} case${event.cases === 1 ? '' : 's'} on ${event.kernels.join(', ')}`);
        break;
      case 'stage-start':
        this.stageStarted = performance.now();
        this.progress = null;
        this.setStatus(() => {
          const step = this.progress ? `  ${this.progress.step}${this.progress.detail ? ` ${this.progress.detail}` : ''}` : '';
          return `${label(event.stage, event.kernel)} ${seconds(performance.now() - this.stageStarted)}${step}`;
        });
        break;
      case 'progress':
        // Without a terminal only the step changes are worth a line; the status line shows the rest.
        if (!this.tty && this.progress?.step !== event.step) this.line(`${label(event.stage, event.kernel)} ${event.step}`);
        this.progress = { step: event.step, detail: event.detail };
        break;
      case 'stage-end':
        this.setStatus(null);
        this.line(`${label(event.stage, event.kernel)} ${seconds(event.ms)}${event.cached ? ' (cached)' : ''}${event.detail ? `  ${event.detail}` : ''}`);
        break;
      case 'note':
        this.line(`note: ${event.message}`);
        break;
      case 'kernel-ready':
        if (event.kernel.timeoutScale !== 1) this.line(`note: ${event.kernel.accel.toUpperCase()}: guest time limits x${event.kernel.timeoutScale} (--tcg-slowdown)`);
        break;
      case 'guest-restart':
        this.line(`guest  ${event.kernel} #${event.guest}: ${event.reason}; a fresh guest runs the ${event.cases} case${event.cases === 1 ? '' : 's'} left`);
        break;
      case 'kernel-finding':
        this.line(`note: kernel ${event.finding.kind} while no case ran: ${event.finding.title}`);
        break;
      case 'case-result':
        this.line(this.caseLine(event.result));
        this.findingLines(event.result);
        break;
      case 'run-end':
        this.setStatus(null);
        this.line(this.summaryLine(event.results, event.ms));
        if (this.resultsDir) this.line(`results: ${this.resultsDir}`);
        break;
      default:
        break;
    }
  }

  private caseLine(r: CaseResult): string {
    const mark = this.paint(marks[r.status].padEnd(7), colours[r.status]);
    const time = r.status === 'skip' ? '' : ` ${r.durationMs}ms`;
    const reason = r.reason ? `  ${r.reason}` : '';
    return `  ${mark} ${r.suite}/${r.case}${time}${reason}`;
  }

  /** A run stopped early gives every case left the same reason: one line for them all. */
  private isRepeatedNoResult(r: CaseResult): boolean {
    const repeated = r.durationMs === 0 && r.reason !== null && r.reason === this.lastNoResult?.reason && r.status === this.lastNoResult.status;
    if (repeated) {
      this.lastNoResult!.more++;
      return true;
    }
    this.flushRepeated();
    this.lastNoResult = r.durationMs === 0 && r.reason?.startsWith('no result: ') ? { status: r.status, reason: r.reason, more: 0 } : null;
    return false;
  }

  private flushRepeated(): void {
    if (!this.lastNoResult?.more) return;
    this.line(`          and ${this.lastNoResult.more} more case${this.lastNoResult.more === 1 ? '' : 's'} with the same reason`);
    this.lastNoResult.more = 0;
  }

  /** The reports the reason does not already name, a few at most: run.json has them all. */
  private findingLines(r: CaseResult): void {
    const unnamed = (r.findings ?? []).filter((f) => !r.reason?.includes(f.title));
    for (const f of unnamed.slice(0, shownFindings)) this.line(`          kernel ${f.kind}: ${f.title}${f.allowed ? ` (allowed: ${f.allowed})` : ''}`);
    const more = unnamed.length - shownFindings;
    if (more > 0) this.line(`          and ${more} more kernel report${more === 1 ? '' : 's'} in run.json`);
  }

  private summaryLine(results: readonly CaseResult[], ms: number): string {
    const s = summarize(results);
    const parts = [`${s.pass} passed`, `${s.fail} failed`];
    for (const status of ['skip', 'timeout', 'crash', 'error'] as const) {
      if (s[status]) parts.push(`${s[status]} ${status === 'skip' ? 'skipped' : status === 'timeout' ? 'timed out' : status === 'crash' ? 'crashed' : 'errored'}`);
    }
    return `${parts.join(', ')} in ${seconds(ms)}`;
  }

  private setStatus(render: (() => string) | null): void {
    if (!this.tty) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clearStatus();
    if (!render) return;
    const draw = () => {
      this.clearStatus();
      this.status = render();
      this.out.write(this.paint(this.status, 2));
    };
    draw();
    this.timer = setInterval(draw, 200);
    this.timer.unref();
  }

  private clearStatus(): void {
    if (this.status) this.out.write('\r\x1b[2K');
    this.status = '';
  }

  private line(text: string): void {
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

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
