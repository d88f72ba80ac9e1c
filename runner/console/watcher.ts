import { caseKey, type CaseRef } from '../model/types.js';
import { isAgentReady, parseCaseMark, programLinePrefix } from '../protocol/guest.js';
import { ReportScanner, type ScannedReport } from './kernel-reports.js';

/** A kernel report and the case that was running when the kernel printed it (null: none was). */
export interface WatchedReport extends ScannedReport {
  during: CaseRef | null;
  /** How many lines the case's program had printed when the report began (its programLines). */
  outputBefore: number;
}

export interface ConsoleWatcherHooks {
  firstLine?(): void;
  agentReady?(): void;
  caseBegin?(ref: CaseRef): void;
  caseEnd?(ref: CaseRef): void;
  report?(report: WatchedReport): void;
}

// Reads the guest console live: the agent's marks (ready, each case's begin and end, written
// to /dev/kmsg by the helper so they interleave exactly with kernel messages) and the splats
// between them, each attributed to the case that was running.
export class ConsoleWatcher {
  private readonly scanner = new ReportScanner((splat) => this.attribute(splat));
  private running: CaseRef | null = null;
  private seenLine = false;
  readonly reports: WatchedReport[] = [];
  readonly ended = new Set<string>();
  /** What each case's program printed, as echoed to the console: all there is of a program the
   * guest died under. */
  readonly programLines = new Map<string, string[]>();
  /** Program lines of the running case before the report being read began. */
  private outputBefore = 0;
  ready = false;

  constructor(private readonly hooks: ConsoleWatcherHooks = {}) {}

  /** The case that began and has not ended. */
  get current(): CaseRef | null {
    return this.running;
  }

  get sawOutput(): boolean {
    return this.seenLine;
  }

  line(raw: string): void {
    if (!this.seenLine) {
      this.seenLine = true;
      this.hooks.firstLine?.();
    }
    if (!this.scanner.reporting) this.outputBefore = this.running ? (this.programLines.get(caseKey(this.running))?.length ?? 0) : 0;
    const text = this.scanner.line(raw).trim();
    if (isAgentReady(text)) {
      this.ready = true;
      this.hooks.agentReady?.();
      return;
    }
    if (text.startsWith(programLinePrefix)) {
      if (this.running) {
        const key = caseKey(this.running);
        const lines = this.programLines.get(key) ?? [];
        lines.push(text.slice(programLinePrefix.length));
        this.programLines.set(key, lines);
      }
      return;
    }
    const mark = parseCaseMark(text);
    if (!mark) return;
    const { ref } = mark;
    if (mark.edge === 'begin') {
      this.running = ref;
      this.hooks.caseBegin?.(ref);
    } else {
      if (this.running && caseKey(this.running) === caseKey(ref)) this.running = null;
      this.ended.add(caseKey(ref));
      this.hooks.caseEnd?.(ref);
    }
  }

  /** The console ended: a report cut off by the guest's death is still a report. */
  end(): void {
    this.scanner.flush();
  }

  reportsFor(ref: CaseRef): WatchedReport[] {
    return this.reports.filter((f) => f.during !== null && caseKey(f.during) === caseKey(ref));
  }

  private attribute(splat: ScannedReport): void {
    const report: WatchedReport = { ...splat, during: this.running, outputBefore: this.outputBefore };
    this.reports.push(report);
    this.hooks.report?.(report);
  }
}
