import { ConsoleWatcher, type ConsoleWatcherHooks, type WatchedReport } from '../console/watcher.js';
import type { ResultSink } from '../model/sink.js';
import { caseKey, type CaseRef, type ConsoleExcerpt } from '../model/types.js';
import type { LineSpan } from '../qemu/lines.js';
import { filledResult, type Missing } from '../model/filled.js';
import type { RunUnit, UnitResult } from '../sources/unit.js';
import { CaseResultStream } from '../tap/case-results.js';

export type LedgerHooks = Omit<ConsoleWatcherHooks, 'report'> & {
  /** A report printed while no case was running, or tied to none of several running (a run-level report). */
  caseless?(report: WatchedReport): void;
};

export interface LedgerOptions {
  /** The console log's name in the kernel's directory, for the results' excerpts. */
  consoleFile?: string | null;
  /** Units this guest runs again alone, and why: their results say so. */
  aloneWhy?: ReadonlyMap<string, string>;
}

/** A unit the guest was in when it stopped: begun and not ended, or ended with no result yet. */
export interface Unfinished {
  ref: CaseRef;
  ended: boolean;
}

// One guest's two streams brought together: the console (unit marks, task marks, kernel reports,
// program lines) and the result channel (TAP). They travel on separate serial ports, so a unit's
// TAP line can overtake its end mark; a result is turned into case results only once its end mark
// has been seen, so the kernel reports printed before the mark are in its verdict, and results
// are reported in the order they arrived. A unit that ran beside others when a report named none
// of their tasks is a suspect: its result is held back (the session runs it again alone).
export class GuestLedger {
  private readonly watcher: ConsoleWatcher;
  private readonly stream: CaseResultStream;
  private readonly pending: UnitResult[] = [];
  private readonly begunAt = new Map<string, number>();
  private readonly unitOf: Map<string, RunUnit>;
  /** Units whose result (or the status the guest's end gave them) was turned into case results, or held back. */
  private readonly resulted = new Set<string>();
  /** Suspects, by key, with the first report that made them so. */
  private readonly suspected = new Map<string, { ref: CaseRef; report: WatchedReport }>();
  /** The unit whose end mark came last, and how many reports there were then. */
  private lastEnded: CaseRef | null = null;
  private reportsAtLastEnd = 0;
  /** How many reports there were when each running unit began. */
  private readonly reportsAtBegin = new Map<string, number>();
  /** Case results this guest reported that the sink kept. */
  reported = 0;
  /** Each unit's stretch of the console, by the byte offsets of its marks. */
  private readonly spans = new Map<string, { start: number; end: number | null }>();
  private line: LineSpan = { start: 0, end: 0 };
  private readonly consoleFile: string | null;
  private readonly aloneWhy: ReadonlyMap<string, string>;

  constructor(
    private readonly kernel: string,
    units: readonly RunUnit[],
    private readonly sink: ResultSink,
    hooks: LedgerHooks = {},
    options: LedgerOptions = {},
  ) {
    this.consoleFile = options.consoleFile ?? null;
    this.aloneWhy = options.aloneWhy ?? new Map();
    this.unitOf = new Map(units.map((u) => [caseKey(u.ref), u] as const));
    this.watcher = new ConsoleWatcher(
      {
        ...(hooks.firstLine ? { firstLine: hooks.firstLine } : {}),
        ...(hooks.agentReady ? { agentReady: hooks.agentReady } : {}),
        caseBegin: (ref) => {
          this.begunAt.set(caseKey(ref), performance.now());
          this.reportsAtBegin.set(caseKey(ref), this.watcher.reports.length);
          this.spans.set(caseKey(ref), { start: this.line.start, end: null });
          hooks.caseBegin?.(ref);
        },
        caseEnd: (ref) => {
          const span = this.spans.get(caseKey(ref));
          if (span) span.end = this.line.end;
          this.lastEnded = ref;
          this.reportsAtLastEnd = this.watcher.reports.length;
          this.reportsAtBegin.delete(caseKey(ref));
          hooks.caseEnd?.(ref);
          this.drain(false);
        },
        report: (f) => {
          for (const ref of f.suspects) if (!this.suspected.has(caseKey(ref))) this.suspected.set(caseKey(ref), { ref, report: f });
          if (f.during === null) hooks.caseless?.(f);
        },
      },
    );
    this.stream = new CaseResultStream(
      kernel,
      units.map((u) => u.ref),
      (result, diag) => {
        this.pending.push({ ...result, diag, console: [] });
        this.drain(false);
      },
    );
  }

  consoleLine(line: string, span?: LineSpan): void {
    if (span) this.line = span;
    this.watcher.line(line);
  }

  resultChunk(chunk: string): void {
    this.stream.write(chunk);
  }

  /** Both streams ended: results whose end mark never came are reported now. */
  end(): void {
    this.watcher.end();
    this.stream.end();
    this.drain(true);
  }

  get sawOutput(): boolean {
    return this.watcher.sawOutput;
  }

  get agentReady(): boolean {
    return this.watcher.ready;
  }

  /** The unit the guest was in when it stopped, when at most one was running: the one begun
   * and not ended, else the last one ended with no result yet (see unfinishedAll). */
  unfinished(): Unfinished | null {
    const running = this.running();
    if (running.length > 1) return null;
    if (running[0]) return { ref: running[0], ended: false };
    return this.lastEnded && !this.done(this.lastEnded) ? { ref: this.lastEnded, ended: true } : null;
  }

  /** Every unit the guest was in when it stopped: begun and not ended, then those ended with no
   * result yet (suspects, whose results are held back, are not among them). */
  unfinishedAll(): Unfinished[] {
    const ended = [...this.watcher.ended].map((key) => this.unitOf.get(key)?.ref).filter((ref): ref is CaseRef => ref !== undefined && !this.done(ref));
    return [...this.running().map((ref) => ({ ref, ended: false })), ...ended.map((ref) => ({ ref, ended: true }))];
  }

  /** The units begun and not ended that have no result yet. */
  private running(): CaseRef[] {
    return this.watcher.runningCases.filter((ref) => !this.done(ref));
  }

  /** The units held back as suspects, each with the report that made it one. */
  suspects(): { ref: CaseRef; report: WatchedReport }[] {
    return [...this.suspected.values()];
  }

  /** Holds back units that get no verdict from this guest (it died or hung while they ran beside
   * others): the session runs them again. */
  holdBack(refs: readonly CaseRef[]): void {
    for (const ref of refs) this.resulted.add(caseKey(ref));
  }

  /** How long the unfinished unit had run when the guest stopped. */
  runningMs(ref: CaseRef): number {
    const started = this.begunAt.get(caseKey(ref));
    return started === undefined ? 0 : Math.round(performance.now() - started);
  }

  /** What the kernel said just before the guest stopped: reports since the earliest of the
   * running units began, or with none running since the last end mark. */
  recentReports(): WatchedReport[] {
    const since = Math.min(this.reportsAtLastEnd, ...this.reportsAtBegin.values());
    return this.watcher.reports.slice(since);
  }

  /** Gives the unfinished unit's cases the status the guest's end implies, with their kernel reports and
   * what a program of theirs printed before it. */
  reportUnfinished(ref: CaseRef, own: Missing, durationMs: number): void {
    this.keep({ ...filledResult(this.kernel, ref, own, durationMs), diag: null, console: [] });
  }

  /** The unit's result has been reported (the store may keep only some of its cases: a selftest
   * run reports tests nobody asked for), or held back. */
  private done(ref: CaseRef): boolean {
    return this.resulted.has(caseKey(ref));
  }

  private keep(result: UnitResult): void {
    const key = caseKey(result);
    const unit = this.unitOf.get(key);
    if (!unit) return;
    this.resulted.add(key);
    // A unit is kept once: what its program printed is not needed again, however long the guest runs.
    const lines = this.watcher.programLines.get(key) ?? [];
    this.watcher.programLines.delete(key);
    if (this.suspected.has(key)) return;
    const excerpt = this.excerptOf(result);
    const alone = this.aloneWhy.get(key);
    for (const r of unit.expand({ ...result, console: lines, ...(excerpt ? { excerpt } : {}) }, this.watcher.reportsFor(result))) {
      if (this.sink.report(alone === undefined ? r : { ...r, ranAlone: alone })) this.reported++;
    }
  }

  /** The unit's console lines: from its begin mark to its end mark, or to the last line when the guest stopped in it. */
  private excerptOf(ref: CaseRef): ConsoleExcerpt | null {
    const span = this.spans.get(caseKey(ref));
    if (!span || this.consoleFile === null) return null;
    return { file: this.consoleFile, start: span.start, end: span.end ?? this.line.end };
  }

  private drain(all: boolean): void {
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (!all && next.status !== 'skip' && !this.watcher.ended.has(caseKey(next))) return;
      this.pending.shift();
      this.keep(next);
    }
  }
}
