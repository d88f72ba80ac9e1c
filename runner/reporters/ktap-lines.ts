import { classCount } from '../model/summary.js';
import type { CaseResult, CaseStatus, ComparedCase, ComparisonClass, SkipCause, Subtest } from '../model/types.js';

// How one result reads in KTAP v1 (Documentation/dev-tools/ktap.rst), and how the kernel's own
// parser (tools/testing/kunit/kunit_parser.py) counts it: `ok` is passed, `not ok` is failed, and
// SKIP is skipped whichever it follows; no other directive changes what it counts. So every
// result that fails the run reads `not ok`, and every one that does not reads `ok`.

/** How a line counts in kselftest's closing "# Totals:" line (kselftest.h's words). */
export type Tally = 'pass' | 'fail' | 'xfail' | 'skip' | 'error';

export interface Outcome {
  ok: boolean;
  /** The directive and its diagnostic data (`SKIP reason`), or null for a plain ok / not ok. */
  directive: string | null;
  /** Diagnostic lines (without their "# ") said before the result line. */
  notes: string[];
  tally: Tally;
}

const causeWords: Record<SkipCause, string> = {
  release: 'for the kernel release',
  feature: 'the kernel lacks a feature',
  resource: 'this machine lacks a resource',
};

/** A status as it reads on its own: TIMEOUT for a time limit, ERROR for a crash or a case that
 * never finished (the guest died, the run was stopped or killed), a plain not ok for a failed check. */
export function statusOutcome(status: CaseStatus, reason: string | null, skipCause?: SkipCause): Outcome {
  const why = reason ?? '';
  switch (status) {
    case 'pass':
      return { ok: true, directive: null, notes: [], tally: 'pass' };
    case 'skip':
      return { ok: true, directive: `SKIP ${skipCause ? `${causeWords[skipCause]}: ` : ''}${why}`.trimEnd(), notes: [], tally: 'skip' };
    case 'fail':
      return { ok: false, directive: null, notes: why ? [why] : [], tally: 'fail' };
    case 'timeout':
      return { ok: false, directive: `TIMEOUT ${why}`.trimEnd(), notes: [], tally: 'fail' };
    case 'crash':
      return { ok: false, directive: `ERROR crashed${why ? `: ${why}` : ''}`, notes: [], tally: 'error' };
    case 'error':
      return { ok: false, directive: `ERROR ${why}`.trimEnd(), notes: [], tally: 'error' };
  }
}

/** A failure an expectation accepts reads `ok # XFAIL`, as kselftest.h prints one: it does not
 * fail the run, and kunit.py counts it passed. What failed is said on the line before. */
function accepted(status: CaseStatus, reason: string | null, by: NonNullable<CaseResult['expected']>): Outcome {
  return { ok: true, directive: `XFAIL ${by.reason} (${by.entry})`, notes: [`${status}${reason ? `: ${reason}` : ''}`], tally: 'xfail' };
}

/** Where a kernel's result stands against its baseline, when a comparison put it there. */
export interface Compared {
  baseline: string;
  entry: ComparedCase;
  /** The run's --fail-on classes. */
  failOn: readonly ComparisonClass[];
}

// A case's line. A result whose comparison class fails the run reads as a failure whatever its
// status, so a regression to a skip (a feature the series took away) is `not ok`, never SKIP.
export function caseOutcome(r: CaseResult, compared: Compared | null): Outcome {
  const regressed = compared !== null && r.status !== 'pass' && compared.failOn.includes(compared.entry.class);
  const base = r.expected && !regressed ? accepted(r.status, r.reason, r.expected) : statusOutcome(r.status, r.reason, r.skipCause);
  const outcome: Outcome = regressed && base.ok ? { ok: false, directive: null, notes: [`${r.status}${r.reason ? `: ${r.reason}` : ''}`], tally: 'fail' } : base;
  const notes = [...(compared ? comparedNotes(compared) : []), ...outcome.notes];
  for (const report of r.reports ?? []) notes.push(`kernel report: ${report.title}${report.allowed ? ` (allowed: ${report.allowed})` : ''}`);
  if (r.ranAlone) notes.push(`ran alone: ${r.ranAlone}`);
  return { ...outcome, notes };
}

function comparedNotes(c: Compared): string[] {
  const { entry } = c;
  if (entry.class === 'unchanged' && entry.newReports.length === 0) return [];
  const from = entry.baseline?.status ?? '-';
  const to = entry.candidate?.status ?? '-';
  const attempts = entry.attempts ? ` (reruns: ${entry.attempts.baseline.join(',')} / ${entry.attempts.candidate.join(',')})` : '';
  return [`${entry.class} against ${c.baseline}: ${from} -> ${to}${attempts}`, ...entry.newReports.map((t) => `new kernel report: ${t}`)];
}

/** A part a selftest reported: as its status reads, unless the case's expectation accepts it. */
export function subtestOutcome(s: Subtest, acceptedBy: CaseResult['expected']): Outcome {
  if (acceptedBy && s.status !== 'pass' && s.status !== 'skip') return accepted(s.status, s.reason, acceptedBy);
  return statusOutcome(s.status, s.reason);
}

/** A comparison's counts in words for a kernel's notes: "2 regressions, 1 fixed (12 unchanged)". */
export function comparisonWords(counts: Record<ComparisonClass, number>): string {
  const changed = Object.entries(counts).filter(([cls, n]) => n > 0 && cls !== 'unchanged').map(([cls, n]) => classCount(cls as ComparisonClass, n));
  return `${changed.length ? changed.join(', ') : 'no change'} (${counts.unchanged} unchanged)`;
}

// A description may hold any character but "#" and a newline (ktap.rst); kunit.py reads a name
// only up to its first "#".
export const ktapName = (name: string): string => oneLine(name).replace(/#/g, '%23') || '(unnamed)';

/** Diagnostic data after a directive: one line, with "#" escaped, so that " # SKIP" inside a
 * reason can never read as a skip (kunit.py finds SKIP anywhere after the name). */
export const ktapData = (text: string): string => defused(oneLine(text).replace(/#/g, '\\#'));

/** A note as diagnostic lines, one per line of it. */
export const ktapNotes = (text: string): string[] =>
  text.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '').map((l) => `# ${defused(l).replace(/^(\s*)Subtest:/, '$1Subtest -')}`);

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

// kunit.py stops reading KTAP at a line holding any of these (the kernel's end of boot); a reason
// or a report title quoting the kernel must not end the results early.
const defused = (text: string): string => text.replace(/List of all partitions:|Kernel panic - not syncing: VFS:|reboot: System halted/g, (m) => m.replace(/: ?/, ' - '));
