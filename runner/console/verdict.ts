import type { CaseResult, KernelReport } from '../model/types.js';
import { allowMatchBudgetMs, matchAllowPattern } from './allow-match.js';
import type { ScannedReport } from './kernel-reports.js';

export interface AllowRule {
  /** Searched for in the report's text: the WARN() message, the first line and the call trace. */
  match: RegExp;
  reason: string;
}

/** A suite's `console:` setting: whether kernel reports fail its cases (its `splats` key), and known ones that do not. */
export interface ConsolePolicy {
  splats: 'fail' | 'report';
  allow: readonly AllowRule[];
}

export const defaultConsolePolicy: ConsolePolicy = { splats: 'fail', allow: [] };

const reportOnly = 'the suite reports console splats without failing cases (console.splats: report)';

export function toReport(scanned: ScannedReport, policy: ConsolePolicy): KernelReport {
  const { kind, title, text, fatal } = scanned;
  let rule: AllowRule | undefined;
  const skipped: string[] = [];
  for (const candidate of policy.allow) {
    const outcome = matchAllowPattern(candidate.match, text);
    if (outcome === 'gave-up') skipped.push(`/${candidate.match.source}/`);
    if (outcome === 'match') {
      rule = candidate;
      break;
    }
  }
  const allowed = rule?.reason ?? (policy.splats === 'report' ? reportOnly : undefined);
  const allowSkipped = skipped.length
    ? `allow pattern${skipped.length > 1 ? 's' : ''} ${skipped.join(', ')} not applied: ${skipped.length > 1 ? 'they run' : 'it runs'} over ${allowMatchBudgetMs} ms on a report (catastrophic backtracking); simplify ${skipped.length > 1 ? 'them' : 'it'}`
    : undefined;
  return { kind, title, text, fatal, ...(allowed !== undefined && !fatal ? { allowed } : {}), ...(allowSkipped ? { allowSkipped } : {}) };
}

// A case's own verdict meets what the kernel printed meanwhile. A fatal report (the kernel
// killed a task, or died) makes it a crash whatever the case saw; any other report not allowed
// fails a case that passed its own checks. Allow-lists cannot hide a fatal report.
export function withReports(result: CaseResult, scanned: readonly ScannedReport[], policy: ConsolePolicy): CaseResult {
  if (scanned.length === 0) return result;
  const reports = scanned.map((s) => toReport(s, policy));
  const fatal = reports.find((f) => f.fatal);
  const failing = reports.filter((f) => f.allowed === undefined);
  const own = result.status === 'pass' ? null : result.reason;
  if (fatal) return { ...result, status: 'crash', reason: joinReasons(describe(fatal, reports.length), own), reports };
  if (failing.length === 0) return { ...result, reports };
  if (result.status === 'pass') return { ...result, status: 'fail', reason: describe(failing[0]!, failing.length), reports };
  return { ...result, reason: joinReasons(own, describe(failing[0]!, failing.length)), reports };
}

function describe(report: KernelReport, count: number): string {
  const more = count > 1 ? ` (and ${count - 1} more report${count > 2 ? 's' : ''})` : '';
  return `kernel ${report.kind}: ${report.title}${more}${report.allowSkipped ? `; ${report.allowSkipped}` : ''}`;
}

function joinReasons(first: string | null, second: string | null): string {
  return [first, second].filter((r) => r !== null && r !== '').join('; ');
}
