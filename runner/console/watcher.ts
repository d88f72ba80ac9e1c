import { caseKey, type CaseRef } from '../model/types.js';
import { isAgentReady, parseCaseMark, parseProgramLine, parseTaskMark } from '../protocol/guest.js';
import { ReportScanner, type ScannedReport } from './kernel-reports.js';
import { reportTaskPid } from './report-task.js';

/** A kernel report and the case it is tied to (null: none was running, or it names no task of
 * one of several running: then those are its `suspects`). */
export interface WatchedReport extends ScannedReport {
  during: CaseRef | null;
  /** The cases that were running side by side when a report named no task of theirs: any of
   * them may have caused it, so none gets a verdict until it has run alone. Empty otherwise. */
  suspects: CaseRef[];
  /** The pid of the task the report names as its own, when it names one. */
  pid: number | null;
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

// Reads the guest console live: the agent's marks (ready, each case's begin and end and its
// tasks, written to /dev/kmsg by the helper so they interleave exactly with kernel messages) and
// the splats between them. A report goes to the one case running, as it always did; with
// several running, to the case whose task the report names, and when it names none of theirs
// (an interrupt, a kworker, an RCU stall) to none: every running case becomes a suspect.
export class ConsoleWatcher {
  private readonly scanner = new ReportScanner((splat) => this.attribute(splat));
  /** The cases begun and not ended, in the order they began. */
  private readonly running = new Map<string, CaseRef>();
  /** Each task a case named in a task mark: pid -> case key (a pid used again is named again). */
  private readonly taskOf = new Map<number, string>();
  private seenLine = false;
  readonly reports: WatchedReport[] = [];
  readonly ended = new Set<string>();
  /** What each case's program printed, as echoed to the console (all there is of a program the
   * guest died under), until the ledger has kept the case's result. */
  readonly programLines = new Map<string, string[]>();
  /** Program lines of each running case before the report being read began. */
  private outputBefore = new Map<string, number>();
  ready = false;

  constructor(private readonly hooks: ConsoleWatcherHooks = {}) {}

  /** The case that began last and has not ended. */
  get current(): CaseRef | null {
    return [...this.running.values()].at(-1) ?? null;
  }

  /** Every case begun and not ended, in the order they began. */
  get runningCases(): CaseRef[] {
    return [...this.running.values()];
  }

  /** The running case a task (by pid) belongs to, when one of them named it. */
  private runningOwnerOf(pid: number | null): CaseRef | null {
    const key = pid === null ? undefined : this.taskOf.get(pid);
    return key === undefined ? null : (this.running.get(key) ?? null);
  }

  get sawOutput(): boolean {
    return this.seenLine;
  }

  line(raw: string): void {
    if (!this.seenLine) {
      this.seenLine = true;
      this.hooks.firstLine?.();
    }
    if (!this.scanner.reporting) this.outputBefore = new Map([...this.running.keys()].map((key) => [key, this.programLines.get(key)?.length ?? 0]));
    const text = this.scanner.line(raw).trim();
    if (isAgentReady(text)) {
      this.ready = true;
      this.hooks.agentReady?.();
      return;
    }
    const program = parseProgramLine(text);
    if (program) {
      const key = this.programLineOwner(program.ref);
      if (key !== null) {
        const lines = this.programLines.get(key) ?? [];
        lines.push(program.line);
        this.programLines.set(key, lines);
      }
      return;
    }
    const task = parseTaskMark(text);
    if (task) {
      this.taskOf.set(task.pid, caseKey(task.ref));
      return;
    }
    const mark = parseCaseMark(text);
    if (!mark) return;
    const { ref } = mark;
    const key = caseKey(ref);
    if (mark.edge === 'begin') {
      this.running.set(key, ref);
      this.hooks.caseBegin?.(ref);
    } else {
      this.running.delete(key);
      this.ended.add(key);
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

  /** Whose a program line is: the running case it names, or in a console from a helper that
   * named none, the one case running. */
  private programLineOwner(ref: CaseRef | null): string | null {
    if (ref) return this.running.has(caseKey(ref)) ? caseKey(ref) : null;
    return this.running.size === 1 ? [...this.running.keys()][0]! : null;
  }

  private attribute(splat: ScannedReport): void {
    const running = [...this.running.values()];
    // The panic an oops leads to ("Fatal exception", oops=panic) prints no task of its own: it
    // is the oops's task's.
    const before = this.reports.at(-1);
    const pid = reportTaskPid(splat.kind, splat.text) ?? (splat.kind === 'panic' && before?.fatal ? before.pid : null);
    const owner = running.length === 1 ? running[0]! : this.runningOwnerOf(pid);
    const suspects = owner === null && running.length > 1 ? running : [];
    const report: WatchedReport = { ...splat, during: owner, suspects, pid, outputBefore: owner ? (this.outputBefore.get(caseKey(owner)) ?? 0) : 0 };
    this.reports.push(report);
    this.hooks.report?.(report);
  }
}
