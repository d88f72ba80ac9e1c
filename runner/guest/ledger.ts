import { ConsoleWatcher, type ConsoleWatcherHooks, type WatchedReport } from '../console/watcher.js';
import type { ResultSink } from '../model/sink.js';
import { caseKey, type CaseRef, type ConsoleExcerpt } from '../model/types.js';
import type { LineSpan } from '../qemu/lines.js';
import { filledResult, type Missing } from '../model/filled.js';
import type { RunUnit, UnitResult } from '../sources/unit.js';
import { CaseResultStream } from '../tap/case-results.js';

export type LedgerHooks = Omit<ConsoleWatcherHooks, 'report'> & {
  /** A report printed while no case was running. */
  caseless?(report: WatchedReport): void;
};

// One guest's two streams brought together: the console (unit marks, kernel reports, program lines) and
// the result channel (TAP). They travel on separate serial ports, so a unit's TAP line can
// overtake its end mark; a result is turned into case results only once its end mark has been
// seen, so the kernel reports printed before the mark are in its verdict, and results are reported in
// the order they arrived.
export class GuestLedger {
  private readonly watcher: ConsoleWatcher;
  private readonly stream: CaseResultStream;
  private readonly pending: UnitResult[] = [];
  private readonly begunAt = new Map<string, number>();
  private readonly unitOf: Map<string, RunUnit>;
  /** Units whose result (or the status the guest's end gave them) was turned into case results. */
  private readonly resulted = new Set<string>();
  /** The unit whose end mark came last, and how many reports there were then. */
  private lastEnded: CaseRef | null = null;
  private reportsAtLastEnd = 0;
  /** Case results this guest reported that the sink kept. */
  reported = 0;
  /** Each unit's stretch of the console, by the byte offsets of its marks. */
  private readonly spans = new Map<string, { start: number; end: number | null }>();
  private line: LineSpan = { start: 0, end: 0 };

  constructor(
    private readonly kernel: string,
    units: readonly RunUnit[],
    private readonly sink: ResultSink,
    hooks: LedgerHooks = {},
    /** The console log's name in the kernel's directory, for the results' excerpts. */
    private readonly consoleFile: string | null = null,
  ) {
    this.unitOf = new Map(units.map((u) => [caseKey(u.ref), u] as const));
    this.watcher = new ConsoleWatcher({
      ...(hooks.firstLine ? { firstLine: hooks.firstLine } : {}),
      ...(hooks.agentReady ? { agentReady: hooks.agentReady } : {}),
      caseBegin: (ref) => {
        this.begunAt.set(caseKey(ref), performance.now());
        this.spans.set(caseKey(ref), { start: this.line.start, end: null });
        hooks.caseBegin?.(ref);
      },
      caseEnd: (ref) => {
        const span = this.spans.get(caseKey(ref));
        if (span) span.end = this.line.end;
        this.lastEnded = ref;
        this.reportsAtLastEnd = this.watcher.reports.length;
        hooks.caseEnd?.(ref);
        this.drain(false);
      },
      report: (f) => {
        if (f.during === null) hooks.caseless?.(f);
      },
    });
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

  /** The unit the guest was in when it stopped: begun and not ended, or ended with no result yet. */
  unfinished(): { ref: CaseRef; ended: boolean } | null {
    const running = this.watcher.current;
    if (running) return this.done(running) ? null : { ref: running, ended: false };
    return this.lastEnded && !this.done(this.lastEnded) ? { ref: this.lastEnded, ended: true } : null;
  }

  /** How long the unfinished unit had run when the guest stopped. */
  runningMs(ref: CaseRef): number {
    const started = this.begunAt.get(caseKey(ref));
    return started === undefined ? 0 : Math.round(performance.now() - started);
  }

  /** Reports since the last end mark: what the kernel said just before the guest stopped. */
  recentReports(): WatchedReport[] {
    return this.watcher.reports.slice(this.reportsAtLastEnd);
  }

  /** Gives the unfinished unit's cases the status the guest's end implies, with their kernel reports and
   * what a program of theirs printed before it. */
  reportUnfinished(ref: CaseRef, own: Missing, durationMs: number): void {
    this.keep({ ...filledResult(this.kernel, ref, own, durationMs), diag: null, console: [] });
  }

  /** The unit's result has been reported (the store may keep only some of its cases: a selftest
   * run reports tests nobody asked for). */
  private done(ref: CaseRef): boolean {
    return this.resulted.has(caseKey(ref));
  }

  private keep(result: UnitResult): void {
    const unit = this.unitOf.get(caseKey(result));
    if (!unit) return;
    this.resulted.add(caseKey(result));
    const lines = this.watcher.programLines.get(caseKey(result)) ?? [];
    const excerpt = this.excerptOf(result);
    for (const r of unit.expand({ ...result, console: lines, ...(excerpt ? { excerpt } : {}) }, this.watcher.reportsFor(result))) if (this.sink.report(r)) this.reported++;
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
