import { FaultlineError } from '../core/errors.js';
import { caseStatuses, type CaseStatus } from '../model/types.js';
import type { Verdict } from './search.js';

/** A case's outcome in one step, by `suite/case`. */
export interface Outcome {
  status: CaseStatus;
  reason: string | null;
}
export type Outcomes = Readonly<Record<string, Outcome>>;

/** The statuses that make a step bad unless `--status` says otherwise. */
export const defaultBadClass: readonly CaseStatus[] = ['fail', 'timeout', 'crash', 'error'];

/** `--status fail,crash`: the bad class. */
export function parseBadClass(text: string | undefined): CaseStatus[] {
  if (text === undefined) return [...defaultBadClass];
  const named = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const hint = `Give a comma-separated list of: ${caseStatuses.filter((s) => s !== 'pass').join(', ')}.`;
  const wrong = named.filter((s) => !(caseStatuses as readonly string[]).includes(s) || s === 'pass');
  if (named.length === 0 || wrong.length > 0) {
    throw new FaultlineError('usage', `--status ${text}: ${named.length === 0 ? 'names no status' : `${wrong.join(', ')} ${wrong.length === 1 ? 'is not a status' : 'are not statuses'} a case can turn to`}`, { hint });
  }
  return [...new Set(named)] as CaseStatus[];
}

// The oracle is exactly the cases the two ends disagree on the way the user asked: in the bad
// class on the bad end, passing on the good end. Every other case says nothing about the change.
export function oracleOf(good: Outcomes, bad: Outcomes, badClass: readonly CaseStatus[]): string[] {
  return Object.keys(bad).filter((key) => badClass.includes(bad[key]!.status) && good[key]?.status === 'pass').sort();
}

// A step is bad when any oracle case is in the bad class, good when every one passes, and
// otherwise (a case skipped, or failing some other way than asked) it says nothing: skip.
export function stepVerdict(outcomes: Outcomes, oracle: readonly string[], badClass: readonly CaseStatus[]): { verdict: Verdict; why: string } {
  const bad = oracle.filter((key) => outcomes[key] && badClass.includes(outcomes[key].status));
  if (bad.length > 0) return { verdict: 'bad', why: bad.map((key) => `${key} ${outcomes[key]!.status}`).join(', ') };
  const other = oracle.filter((key) => outcomes[key]?.status !== 'pass');
  if (other.length === 0) return { verdict: 'good', why: '' };
  return { verdict: 'skip', why: `neither good nor bad: ${other.map((key) => `${key} ${outcomes[key]?.status ?? 'has no result'}`).join(', ')}` };
}
