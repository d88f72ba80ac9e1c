import { Parser, type Result } from 'tap-parser';
import { caseKey } from '../console/watcher.js';
import type { CaseResult, CaseStatus } from '../events.js';

export interface PlannedCase {
  suite: string;
  case: string;
}

const failureStatuses = new Set<CaseStatus>(['fail', 'timeout', 'crash', 'error']);

// Turns the helper's TAP 14 stream (one subtest per suite) into case results as they arrive.
// It never throws on bad input: lines that are not TAP are ignored, and `finish` reports every
// planned case that never got a result line, because a missing result is never a pass.
export class CaseResultStream {
  private readonly parser = new Parser();
  private readonly received = new Map<string, CaseResult>();
  private readonly plannedKeys: Set<string>;
  private partialLine = '';
  private lastArrival = performance.now();
  private ended = false;

  constructor(
    private readonly kernel: string,
    private readonly planned: readonly PlannedCase[],
    private readonly onResult: (result: CaseResult) => void,
  ) {
    this.plannedKeys = new Set(planned.map((p) => caseKey(p)));
    this.parser.on('child', (child: Parser) => {
      const suite = child.name.trim();
      child.on('assert', (result: Result) => this.record(suite, result));
    });
  }

  /** Only whole lines reach the parser: a line cut off when the guest died is not a result. */
  write(chunk: string): void {
    const text = this.partialLine + chunk;
    const end = text.lastIndexOf('\n') + 1;
    this.partialLine = text.slice(end);
    if (end === 0) return;
    try {
      this.parser.write(text.slice(0, end));
    } catch {
      // tap-parser rejects some garbage outright; what already arrived still counts.
    }
  }

  /** Ends the stream: a last unterminated line is dropped, whatever the parser still held is reported. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.parser.end();
    } catch {
      // as in write
    }
  }

  /** Ends the stream; planned cases with no result get `missing` and are reported now. */
  finish(missing: { status: CaseStatus; reason: string }): CaseResult[] {
    this.end();
    for (const planned of this.planned) {
      if (this.received.has(caseKey(planned))) continue;
      this.emit({ kernel: this.kernel, suite: planned.suite, case: planned.case, status: missing.status, reason: missing.reason, durationMs: 0 });
    }
    return this.results();
  }

  has(ref: PlannedCase): boolean {
    return this.received.has(caseKey(ref));
  }

  results(): CaseResult[] {
    return [...this.received.values()];
  }

  private record(suite: string, result: Result): void {
    const id = caseKey({ suite, case: result.name });
    if (this.received.has(id) || !this.plannedKeys.has(id)) return;
    const elapsed = Math.round(performance.now() - this.lastArrival);
    this.emit({
      kernel: this.kernel,
      suite,
      case: result.name,
      ...statusOf(result),
      durationMs: typeof result.time === 'number' ? Math.round(result.time) : elapsed,
    });
  }

  private emit(result: CaseResult): void {
    this.lastArrival = performance.now();
    this.received.set(caseKey(result), result);
    this.onResult(result);
  }
}


function statusOf(result: Result): { status: CaseStatus; reason: string | null } {
  if (result.skip !== false) return { status: 'skip', reason: typeof result.skip === 'string' && result.skip ? result.skip : 'skipped' };
  if (result.ok) return { status: 'pass', reason: null };
  const diag = (result.diag ?? {}) as Record<string, unknown>;
  const status = failureStatuses.has(diag.status as CaseStatus) ? (diag.status as CaseStatus) : 'fail';
  return { status, reason: typeof diag.reason === 'string' ? diag.reason : 'failed without a reason' };
}
