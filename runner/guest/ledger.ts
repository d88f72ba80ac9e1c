import { ConsoleWatcher, type ConsoleWatcherHooks, type Finding } from '../console/watcher.js';
import { withFindings, type ConsolePolicy } from '../console/verdict.js';
import type { ResultSink } from '../model/sink.js';
import { caseKey, type CaseRef, type CaseResult, type CaseStatus, type PlannedCase } from '../model/types.js';
import { CaseResultStream } from '../tap/case-results.js';

export type LedgerHooks = Omit<ConsoleWatcherHooks, 'finding'> & {
  /** A report printed while no case was running. */
  caseless?(finding: Finding): void;
};

// One guest's two streams brought together: the console (case marks and splats) and the
// result channel (TAP). They travel on separate serial ports, so a case's TAP line can overtake
// its end mark; a result is reported only once its end mark has been seen, so the splats printed
// before the mark are in its verdict, and results are reported in the order they arrived.
export class GuestLedger {
  private readonly watcher: ConsoleWatcher;
  private readonly stream: CaseResultStream;
  private readonly pending: CaseResult[] = [];
  private readonly begunAt = new Map<string, number>();
  /** The case whose end mark came last, and how many findings there were then. */
  private lastEnded: CaseRef | null = null;
  private findingsAtLastEnd = 0;
  /** Results this guest reported that the sink kept. */
  reported = 0;

  constructor(
    private readonly kernel: string,
    cases: readonly PlannedCase[],
    private readonly policyOf: (suite: string) => ConsolePolicy,
    private readonly sink: ResultSink,
    hooks: LedgerHooks = {},
  ) {
    this.watcher = new ConsoleWatcher({
      ...(hooks.firstLine ? { firstLine: hooks.firstLine } : {}),
      ...(hooks.agentReady ? { agentReady: hooks.agentReady } : {}),
      caseBegin: (ref) => {
        this.begunAt.set(caseKey(ref), performance.now());
        hooks.caseBegin?.(ref);
      },
      caseEnd: (ref) => {
        this.lastEnded = ref;
        this.findingsAtLastEnd = this.watcher.findings.length;
        hooks.caseEnd?.(ref);
        this.drain(false);
      },
      finding: (f) => {
        if (f.during === null) hooks.caseless?.(f);
      },
    });
    this.stream = new CaseResultStream(kernel, cases, (result) => {
      this.pending.push(result);
      this.drain(false);
    });
  }

  consoleLine(line: string): void {
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

  /** The case the guest was in when it stopped: begun and not ended, or ended with no result yet. */
  unfinished(): { ref: CaseRef; ended: boolean } | null {
    const running = this.watcher.current;
    if (running) return this.sink.has(running) ? null : { ref: running, ended: false };
    return this.lastEnded && !this.sink.has(this.lastEnded) ? { ref: this.lastEnded, ended: true } : null;
  }

  /** How long the unfinished case had run when the guest stopped. */
  runningMs(ref: CaseRef): number {
    const started = this.begunAt.get(caseKey(ref));
    return started === undefined ? 0 : Math.round(performance.now() - started);
  }

  /** Reports since the last end mark: what the kernel said just before the guest stopped. */
  recentFindings(): Finding[] {
    return this.watcher.findings.slice(this.findingsAtLastEnd);
  }

  /** Gives the unfinished case the status the guest's end implies, with its splats. */
  reportUnfinished(ref: CaseRef, own: { status: CaseStatus; reason: string }, durationMs: number): void {
    this.keep(withFindings({ kernel: this.kernel, ...ref, ...own, durationMs }, this.watcher.findingsFor(ref), this.policyOf(ref.suite)));
  }

  private keep(result: CaseResult): void {
    if (this.sink.report(result)) this.reported++;
  }

  private drain(all: boolean): void {
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (!all && next.status !== 'skip' && !this.watcher.ended.has(caseKey(next))) return;
      this.pending.shift();
      this.keep(withFindings(next, this.watcher.findingsFor(next), this.policyOf(next.suite)));
    }
  }
}
