import { Parser, type Result } from 'tap-parser';
import { caseKey, skipCauses, type CaseResult, type CaseStatus, type PlannedCase, type SkipCause } from '../model/types.js';
import { reportedFailures } from '../model/status.js';

const failureStatuses = new Set<CaseStatus>(reportedFailures);

// Turns the helper's TAP 14 stream (one subtest per suite) into case results as they arrive.
// It never throws on bad input: lines that are not TAP are ignored, and results for cases
// outside the plan are dropped. Whether a case already has a result is the store's business.
export class CaseResultStream {
  private readonly parser = new Parser();
  private readonly plannedKeys: Set<string>;
  private partialLine = '';
  private ended = false;

  constructor(
    private readonly kernel: string,
    planned: readonly PlannedCase[],
    /** `diag`: the point's YAML block, which a program case fills with what the program printed. */
    private readonly onResult: (result: CaseResult, diag: Record<string, unknown> | null) => void,
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

  private record(suite: string, result: Result): void {
    if (!this.plannedKeys.has(caseKey({ suite, case: result.name }))) return;
    // The helper times every case it runs; a skip is decided before it runs.
    const diag = result.diag && typeof result.diag === 'object' ? (result.diag as Record<string, unknown>) : null;
    this.onResult({ kernel: this.kernel, suite, case: result.name, ...statusOf(result), durationMs: typeof result.time === 'number' ? Math.round(result.time) : 0 }, diag);
  }
}

function statusOf(result: Result): { status: CaseStatus; reason: string | null; skipCause?: SkipCause; stepLine?: number } {
  if (result.skip !== false) {
    const cause = (result.diag as Record<string, unknown> | null)?.skip;
    return { status: 'skip', reason: typeof result.skip === 'string' && result.skip ? result.skip : 'skipped', ...(skipCauses.includes(cause as SkipCause) ? { skipCause: cause as SkipCause } : {}) };
  }
  if (result.ok) return { status: 'pass', reason: null };
  const diag = (result.diag ?? {}) as Record<string, unknown>;
  const status = failureStatuses.has(diag.status as CaseStatus) ? (diag.status as CaseStatus) : 'fail';
  const stepLine = typeof diag.line === 'number' && Number.isInteger(diag.line) && diag.line > 0 ? { stepLine: diag.line } : {};
  return { status, reason: typeof diag.reason === 'string' ? diag.reason : 'failed without a reason', ...stepLine };
}
