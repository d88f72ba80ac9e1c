import { classCount } from '../model/summary.js';
import { caseKey, skipCauses, type CaseResult, type CaseStatus, type Comparison, type ComparisonClass, type ExpectationOutcome, type RunModel, type SkipCause } from '../model/types.js';
import { firstLine, terminalLine } from './terminal-text.js';

// The end of a run in words, from the model alone: the terminal prints it after a live run and
// `faultline report` prints it for a saved one. A line that holds names or reasons from the run
// is made safe to print (terminal-text.ts) here, where it is built.
const statusWords: Record<CaseStatus, string> = { pass: 'passed', fail: 'failed', skip: 'skipped', timeout: 'timed out', crash: 'crashed', error: 'errored' };
export const statusMarks: Record<CaseStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skip', timeout: 'TIMEOUT', crash: 'CRASH', error: 'ERROR' };

export function summaryLine(model: RunModel, ms: number): string {
  const s = model.summary;
  const parts = [`${s.pass} passed`, `${s.fail} failed`];
  for (const status of ['skip', 'timeout', 'crash', 'error'] as const) if (s[status]) parts.push(`${s[status]} ${statusWords[status]}`);
  const expected = model.results.filter((r) => r.expected).length;
  if (expected) parts.push(`${expected} of them known (--expect)`);
  const kernels = model.kernels.length > 1 ? ` on ${model.kernels.length} kernels` : '';
  return `${parts.join(', ')}${kernels} in ${(ms / 1000).toFixed(1)}s`;
}


const causeWords: Record<SkipCause, [string, string]> = {
  release: ['for its kernel release', 'for their kernel release'],
  feature: ['for a feature the kernel lacks', 'for features the kernel lacks'],
  resource: ['for a resource this machine lacks', 'for resources this machine lacks'],
};

/** "skipped: 2 for their kernel release, 25 for resources this machine lacks:": the skips by
 * cause, when the helper said why (resourceFixes follows with what to do); null when no skip did. */
export function skipBreakdown(model: RunModel): string | null {
  const skips = model.results.filter((r) => r.status === 'skip');
  const counted = skipCauses.map((cause) => [cause, skips.filter((r) => r.skipCause === cause).length] as const).filter(([, n]) => n > 0);
  if (counted.length === 0) return null;
  const other = skips.filter((r) => r.skipCause === undefined).length;
  const parts = counted.map(([cause, n]) => `${n} ${causeWords[cause][n === 1 ? 0 : 1]}`);
  if (other) parts.push(`${other} for ${other === 1 ? 'a reason' : 'reasons'} of ${other === 1 ? 'its' : 'their'} own`);
  return `skipped: ${parts.join(', ')}${counted.some(([cause]) => cause === 'resource') ? ':' : ''}`;
}

/** What this machine lacks, by the skips' own reasons (each names its fix, e.g. `sysctl
 * vm.nr_hugepages=64`), with how many skipped for it: most first. */
export function resourceFixes(model: RunModel): string[] {
  const counts = new Map<string, number>();
  for (const r of model.results) if (r.status === 'skip' && r.skipCause === 'resource' && r.reason) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([reason, n]) => terminalLine(`${n} x ${firstLine(reason)}`));
}

/** Cases x kernels, for every case that did not pass somewhere: the status in each column. */
export function matrixTable(model: RunModel): string[] {
  if (model.kernels.length < 2) return [];
  const kernels = [...model.kernels].sort((a, b) => a.index - b.index);
  const byKey = new Map<string, Map<string, CaseResult>>();
  for (const r of model.results) {
    const row = byKey.get(caseKey(r)) ?? new Map<string, CaseResult>();
    row.set(r.kernel, r);
    byKey.set(caseKey(r), row);
  }
  const rows = model.matrix.cases.map(caseKey).filter((key) => [...(byKey.get(key)?.values() ?? [])].some((r) => r.status !== 'pass'));
  if (rows.length === 0) return [];
  const width = Math.max(4, ...rows.map((r) => r.length));
  const cols = kernels.map((k, i) => ({ k, head: `#${i + 1}`, width: Math.max(4, `#${i + 1}`.length, 7) }));
  const cell = (r: CaseResult | undefined) => (r ? `${statusMarks[r.status]}${r.expected ? '~' : ''}` : '-');
  const lines = [
    'cases x kernels (what did not pass somewhere; ~ known):',
    `  ${'case'.padEnd(width)}  ${cols.map((c) => c.head.padEnd(c.width)).join(' ')}`,
    ...rows.map((key) => `  ${key.padEnd(width)}  ${cols.map((c) => cell(byKey.get(key)?.get(c.k.id)).padEnd(c.width)).join(' ')}`),
    ...cols.map((c) => `  ${c.head} ${c.k.label}${c.k.release && c.k.release !== c.k.label ? ` (${c.k.release})` : ''}`),
  ];
  return lines.map(terminalLine);
}

/** A comparison's counts, then each case that is not unchanged, regressions first. */
export function comparisonLines(c: Comparison): string[] {
  const counts = Object.entries(c.counts).filter(([cls, n]) => n > 0 && cls !== 'unchanged').map(([cls, n]) => classCount(cls as ComparisonClass, n));
  const head = `${c.candidate.label} against ${c.baseline.label}: ${counts.length ? counts.join(', ') : 'no change'} (${c.counts.unchanged} unchanged)`;
  const shown = c.cases.filter((x) => x.class !== 'unchanged' || x.newReports.length > 0);
  const order = ['regression', 'flaky', 'still-failing', 'changed', 'fixed', 'new', 'removed', 'unchanged'];
  shown.sort((a, b) => order.indexOf(a.class) - order.indexOf(b.class));
  const lines = [
    head,
    ...shown.map((x) => {
      const from = x.baseline?.status ?? '-';
      const to = x.candidate?.status ?? '-';
      const why = x.candidate?.reason ?? x.baseline?.reason;
      const attempts = x.attempts ? ` (reruns: ${x.attempts.baseline.join(',')} / ${x.attempts.candidate.join(',')})` : '';
      const reports = x.newReports.length ? `; new kernel report${x.newReports.length > 1 ? 's' : ''}: ${x.newReports.join('; ')}` : '';
      return `  ${x.class.padEnd(13)} ${caseKey(x)}  ${from} -> ${to}${attempts}${why ? `  ${firstLine(why)}` : ''}${reports}`;
    }),
  ];
  return lines.map(terminalLine);
}

export function expectationLines(outcome: ExpectationOutcome | null): string[] {
  if (!outcome) return [];
  return [
    ...outcome.expired.map((e) => `note: expectation expired, no longer applied: ${e}`),
    ...outcome.stale.map((s) => `${outcome.strict ? 'STALE' : 'note: stale'} expectation ${s.at}: ${s.why}; it can go`),
    ...(outcome.deferred ?? []).map((d) => `note: expectation ${d.at} not judged here: ${d.why}`),
  ].map(terminalLine);
}
