// Finds kernel reports ("splats") in console lines: the first line says what happened, the
// lines after it (registers, call trace) are kept until the report's own end mark.
export const splatKinds = [
  'panic', 'oops', 'bug', 'warning', 'kasan', 'kfence', 'ubsan', 'lockdep',
  'hung-task', 'soft-lockup', 'hard-lockup', 'rcu-stall',
] as const;
export type SplatKind = (typeof splatKinds)[number];

export interface Splat {
  kind: SplatKind;
  /** The report's first line, without the timestamp. */
  title: string;
  /** The report as printed (timestamps removed): a WARN() message, the first line, registers and call trace. */
  text: string;
  /** The kernel killed the task that hit it (oops, BUG) or died itself (panic). */
  fatal: boolean;
}

interface Trigger {
  pattern: RegExp;
  kind: SplatKind;
  fatal: boolean;
}

// Most specific first: "BUG: KASAN:" before "BUG:", lockdep's "WARNING: possible ..." before WARN().
const triggers: readonly Trigger[] = [
  { pattern: /^Kernel panic - not syncing/, kind: 'panic', fatal: true },
  { pattern: /^BUG: KASAN: /, kind: 'kasan', fatal: false },
  { pattern: /^BUG: KFENCE: /, kind: 'kfence', fatal: false },
  { pattern: /^UBSAN: /, kind: 'ubsan', fatal: false },
  { pattern: /(^|: )BUG: soft lockup/, kind: 'soft-lockup', fatal: false },
  { pattern: /Watchdog detected hard LOCKUP/, kind: 'hard-lockup', fatal: false },
  { pattern: /^INFO: task \S+ blocked for more than \d+ seconds/, kind: 'hung-task', fatal: false },
  { pattern: /^rcu: INFO: rcu_\w+ (self-)?detected stall|^INFO: rcu_\w+ (self-)?detected stall/, kind: 'rcu-stall', fatal: false },
  {
    pattern: /^WARNING: (possible circular locking|possible recursive locking|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|bad unlock balance|held lock freed|lock held when returning|Nested lock was not taken|.*lock.* detected)/,
    kind: 'lockdep',
    fatal: false,
  },
  { pattern: /^BUG: (kernel NULL pointer dereference|unable to handle)/, kind: 'oops', fatal: true },
  { pattern: /^(general protection fault|stack segment|Oops: )/, kind: 'oops', fatal: true },
  { pattern: /^kernel BUG at /, kind: 'bug', fatal: true },
  { pattern: /^BUG: /, kind: 'bug', fatal: false },
  { pattern: /^WARNING: /, kind: 'warning', fatal: false },
];

/** How a report of each kind ends; kinds not listed end after their call trace. */
const endMarks: Partial<Record<SplatKind, RegExp>> = {
  panic: /^---\[ end Kernel panic/,
  oops: /^---\[ end trace/,
  bug: /^---\[ end trace/,
  warning: /^---\[ end trace/,
  kasan: /^={20,}$/,
  kfence: /^={20,}$/,
  ubsan: /^={20,}$/,
};
const traceEnd = /^\s*<\/TASK>$/;
const cutHere = /^-+\[ cut here \]-+$/;
const maxMessageLines = 4;
/** A report that never prints its end mark is cut here rather than swallowing the console. */
const maxReportLines = 200;

// `[    1.234567] ` and, with CONFIG_PRINTK_CALLER, `[    T1] `.
const timestamp = /^\[\s*\d+\.\d+\](\[\s*[TC]\d+\])?\s?/;

export function stripTimestamp(line: string): string {
  return line.replace(/\r/g, '').replace(timestamp, '');
}

export function classify(text: string): Trigger | null {
  return triggers.find((t) => t.pattern.test(text)) ?? null;
}

// Feed it console lines in order; it calls `onSplat` when a report is complete (its end mark,
// the next report, a faultline mark, or `flush` at the end of the console).
export class SplatScanner {
  private open: { trigger: Trigger; title: string; lines: string[] } | null = null;
  /** Lines after a "cut here" mark: WARN()'s own message comes before its WARNING line. */
  private cut: string[] | null = null;

  constructor(private readonly onSplat: (splat: Splat) => void) {}

  /** Returns the text of the line without its timestamp, for the caller's own matching. */
  line(raw: string): string {
    const text = stripTimestamp(raw);
    if (text.startsWith('faultline: ')) {
      this.flush();
      return text;
    }
    const trigger = classify(text);
    if (trigger && !this.continues(text)) {
      this.flush();
      this.open = { trigger, title: text.trim(), lines: [...(this.cut ?? []), text] };
      this.cut = null;
      return text;
    }
    if (!this.open) {
      if (cutHere.test(text)) this.cut = [];
      else if (this.cut) this.cut = this.cut.length < maxMessageLines ? [...this.cut, text] : null;
      return text;
    }
    this.open.lines.push(text);
    const end = endMarks[this.open.trigger.kind];
    if ((end ? end.test(text.trim()) : traceEnd.test(text)) || this.open.lines.length >= maxReportLines) this.flush();
    return text;
  }

  flush(): void {
    if (!this.open) return;
    const { trigger, title, lines } = this.open;
    this.open = null;
    // An oops report names its cause first ("BUG: kernel NULL pointer dereference") and kills
    // the task a few lines later ("Oops: 0002"); the pair is one fatal report.
    const fatal = trigger.fatal || lines.some((l) => /^Oops: /.test(l));
    this.onSplat({ kind: trigger.kind, title, text: lines.join('\n'), fatal });
  }

  /** Lines inside an open report that look like triggers but belong to it. */
  private continues(text: string): boolean {
    const kind = this.open?.trigger.kind;
    return /^Oops: /.test(text) && (kind === 'oops' || kind === 'bug');
  }
}
