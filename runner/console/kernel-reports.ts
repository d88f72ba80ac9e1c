import type { ReportKind } from '../model/types.js';
import { consoleText, markPrefix, parseTaskMark, programLinePrefix } from '../protocol/guest.js';

// Finds kernel reports (what kernel people call splats) in console lines: the first line says
// what happened, the lines after it (registers, call trace) are kept until the report's own end mark.

export interface ScannedReport {
  kind: ReportKind;
  /** The report's first line, without the timestamp. */
  title: string;
  /** The report as printed (timestamps removed): a WARN() message, the first line, registers and call trace. */
  text: string;
  /** The kernel killed the task that hit it (oops, BUG) or died itself (panic). */
  fatal: boolean;
}

/** Where a report stops: its own end mark, or the end of its (first) call trace. */
type ReportEnd = 'end-trace' | 'framed' | 'trace' | 'trace-or-end-trace' | 'panic';

interface Trigger {
  pattern: RegExp;
  kind: ReportKind;
  fatal: boolean;
  end: ReportEnd;
}

// Most specific first: "BUG: KASAN:" before "BUG:", lockdep's "WARNING: possible ..." before WARN().
const triggers: readonly Trigger[] = [
  { pattern: /^Kernel panic - not syncing/, kind: 'panic', fatal: true, end: 'panic' },
  { pattern: /^BUG: KASAN: /, kind: 'kasan', fatal: false, end: 'framed' },
  { pattern: /^BUG: KFENCE: /, kind: 'kfence', fatal: false, end: 'framed' },
  { pattern: /^UBSAN: /, kind: 'ubsan', fatal: false, end: 'framed' },
  { pattern: /(^|: )BUG: soft lockup/, kind: 'soft-lockup', fatal: false, end: 'trace' },
  { pattern: /Watchdog detected hard LOCKUP/, kind: 'hard-lockup', fatal: false, end: 'trace' },
  { pattern: /^INFO: task \S+ blocked for more than \d+ seconds/, kind: 'hung-task', fatal: false, end: 'trace' },
  { pattern: /^(rcu: )?INFO: rcu_\w+ (self-)?detected (expedited )?stalls?/, kind: 'rcu-stall', fatal: false, end: 'trace' },
  {
    pattern: /^WARNING: (possible circular locking|possible recursive locking|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|bad unlock balance|held lock freed|lock held when returning|Nested lock was not taken|.*lock.* detected)/,
    kind: 'lockdep',
    fatal: false,
    end: 'trace',
  },
  { pattern: /^BUG: (kernel NULL pointer dereference|unable to handle)/, kind: 'oops', fatal: true, end: 'end-trace' },
  { pattern: /^(general protection fault|stack segment|Oops: )/, kind: 'oops', fatal: true, end: 'end-trace' },
  { pattern: /^kernel BUG at /, kind: 'bug', fatal: true, end: 'end-trace' },
  // "sleeping function called from invalid context", "scheduling while atomic", "Bad page
  // state": a stack dump, and the kernel goes on; no end mark unless an oops follows.
  { pattern: /^BUG: /, kind: 'bug', fatal: false, end: 'trace-or-end-trace' },
  { pattern: /^WARNING: /, kind: 'warning', fatal: false, end: 'end-trace' },
];

const endTrace = /^---\[ end trace/;
const endMarks: Record<Exclude<ReportEnd, 'trace'>, RegExp> = {
  'end-trace': endTrace,
  // KASAN, KFENCE and 6.1's UBSAN frame the report with lines of "="; newer UBSAN ends like WARN().
  framed: /^(={20,}|---\[ end trace.*)$/,
  'trace-or-end-trace': /^(---\[ end trace.*|<\/TASK>)$/,
  panic: /^---\[ end Kernel panic/,
};
const taskEnd = /^\s*<\/TASK>$/;
const cutHere = /^-+\[ cut here \]-+$/;
const maxMessageLines = 4;
/** A report that never prints its end mark is cut here rather than swallowing the console. */
const maxReportLines = 200;


export function classify(text: string): Trigger | null {
  return triggers.find((t) => t.pattern.test(text)) ?? null;
}

interface OpenReport {
  trigger: Trigger;
  title: string;
  lines: string[];
  /** Inside "Call Trace:"; kernels before 5.13 print no <TASK> marks, so an unindented line ends it. */
  trace: 'none' | 'started' | 'frames' | 'task';
}

// Feed it console lines in order; it calls `onReport` when a report is complete (its end mark,
// the next report, a faultline mark, or `flush` at the end of the console).
export class ReportScanner {
  private open: OpenReport | null = null;
  /** Lines after a "cut here" mark: WARN()'s own message comes before its WARNING line. */
  private cut: string[] | null = null;

  constructor(private readonly onReport: (report: ScannedReport) => void) {}

  /** A report has begun and not yet been handed on. */
  get reporting(): boolean {
    return this.open !== null || this.cut !== null;
  }

  /** Returns the text of the line without its timestamp, for the caller's own matching. */
  line(raw: string): string {
    const text = consoleText(raw);
    // A task mark of a case running beside the one that is reporting is neither part of the
    // report nor its end.
    if (parseTaskMark(text)) return text;
    if (text.startsWith(markPrefix)) {
      this.flush();
      return text;
    }
    // A test program's own line, echoed by the helper: neither a report nor part of one.
    if (text.startsWith(programLinePrefix)) return text;
    if (this.open && this.endsUnmarkedTrace(text)) this.flush();
    const trigger = classify(text);
    if (trigger && !this.continues(text)) {
      this.flush();
      this.open = { trigger, title: text.trim(), lines: [...(this.cut ?? []), text], trace: 'none' };
      this.cut = null;
      return text;
    }
    if (!this.open) {
      if (cutHere.test(text)) this.cut = [];
      else if (this.cut) this.cut = this.cut.length < maxMessageLines ? [...this.cut, text] : null;
      return text;
    }
    const open = this.open;
    open.lines.push(text);
    if (/^Call Trace:$/.test(text.trim()) && open.trace === 'none') open.trace = 'started';
    else if (open.trace === 'started') open.trace = /^\s*<TASK>$/.test(text) ? 'task' : 'frames';
    const end = open.trigger.end;
    const ended = end === 'trace' ? taskEnd.test(text) : endMarks[end].test(text.trim());
    if (ended || open.lines.length >= maxReportLines) this.flush();
    return text;
  }

  flush(): void {
    if (!this.open) return;
    const { trigger, title, lines } = this.open;
    this.open = null;
    // An oops report names its cause first ("BUG: kernel NULL pointer dereference") and kills
    // the task a few lines later ("Oops: 0002"); the pair is one fatal report.
    const fatal = trigger.fatal || lines.some((l) => /^Oops: /.test(l));
    this.onReport({ kind: trigger.kind, title, text: lines.join('\n'), fatal });
  }

  /** Lines inside an open report that look like triggers but belong to it: the "Oops:" line of
   * a page fault or `kernel BUG at` report. */
  private continues(text: string): boolean {
    const open = this.open?.trigger;
    return /^Oops: /.test(text) && open !== undefined && open.fatal && (open.kind === 'oops' || open.kind === 'bug');
  }

  /** An old kernel's call trace (no <TASK> marks) ends at the first line that is not a frame. */
  private endsUnmarkedTrace(text: string): boolean {
    const open = this.open!;
    return open.trace === 'frames' && (open.trigger.end === 'trace' || open.trigger.end === 'trace-or-end-trace') && text !== '' && !/^\s/.test(text);
  }
}
