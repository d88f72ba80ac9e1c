import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { projectRoot } from '../core/paths.js';
import { classCount, kernelLabel, verdictOf } from '../model/summary.js';
import { isFailingStatus } from '../model/status.js';
import { caseKey, type CaseStatus, type ComparisonClass, type RunModel } from '../model/types.js';
import { caseViews, type CaseConsoles } from './case-view.js';
import { statusMarks, summaryLine } from './summary.js';

let template: Handlebars.TemplateDelegate | undefined;

// report.html: one file that works offline (no script, font or style from anywhere else), on a
// phone and a wide screen: the cases x kernels matrix, each status coloured and written out, a
// filter for what did not pass, each cell opening the reason, the kernel reports and the
// console lines; the kernels, the comparisons and the known failures. Handlebars escapes every
// value, so kernel text cannot become markup.
export function htmlReport(model: RunModel, consoles: CaseConsoles | null): string {
  template ??= Handlebars.compile(readFileSync(join(projectRoot, 'runner', 'reporters', 'html', 'report.hbs'), 'utf8'), { strict: false });
  return template(htmlView(model, consoles));
}

export function htmlView(model: RunModel, consoles: CaseConsoles | null) {
  const verdict = verdictOf(model, model.failOn);
  const views = caseViews(model, consoles);
  const kernels = [...model.kernels].sort((a, b) => a.index - b.index);
  const ms = model.finishedAt ? Date.parse(model.finishedAt) - Date.parse(model.startedAt) : 0;
  const rows = model.matrix.cases.map((planned) => {
    const key = caseKey(planned);
    const cells = kernels.map((k) => {
      const view = views.find((v) => v.result.kernel === k.id && caseKey(v.result) === key);
      if (!view) return { kernel: k.label, status: 'none', result: false };
      const r = view.result;
      return {
        kernel: k.label,
        status: r.status,
        result: true,
        cls: r.expected ? 'known' : r.status,
        mark: statusMarks[r.status],
        duration: `${r.durationMs} ms`,
        reason: r.reason,
        known: r.expected ? `${r.expected.reason} (${r.expected.entry})` : null,
        comparison: view.comparison && view.comparison !== 'unchanged' ? view.comparison : null,
        reports: (r.reports ?? []).map((f) => ({ kind: f.kind, allowed: f.allowed, text: f.text })),
        subtests: (r.subtests ?? []).map((t) => ({ name: t.name, cls: t.status, mark: statusMarks[t.status], reason: t.reason })),
        console: view.console,
      };
    });
    // What the filter keeps: a cell that failed, or whose comparison class fails the run or
    // did not hold (a pass that became a skip is a regression though no cell failed).
    const attention = cells.some((c) => c.result && (isFailingStatus(c.status as CaseStatus) || (c.comparison !== null && (model.failOn.includes(c.comparison!) || c.comparison === 'flaky'))));
    return { key, file: planned.file ? views.find((v) => caseKey(v.result) === key)?.file : null, line: planned.line, cells, quiet: !attention };
  });
  const attentionCount = rows.filter((r) => !r.quiet).length;
  return {
    verdict: { ok: verdict.exitCode === 0, text: verdict.exitCode === 0 ? 'passed' : verdict.why.join('; ') },
    summary: summaryLine(model, ms),
    command: model.command.join(' '),
    startedAt: model.startedAt,
    finishedAt: model.finishedAt ?? 'not finished',
    duration: `${(ms / 1000).toFixed(1)} s`,
    shard: model.shard ? `${model.shard.index}/${model.shard.count}` : null,
    kernels: kernels.map((k, i) => ({
      column: `#${i + 1}`,
      label: k.label,
      title: model.matrix.kernels[k.index]?.title ?? null,
      spec: k.spec,
      release: k.release ?? '–',
      accel: k.accel ?? 'never resolved',
      timeoutScale: k.timeoutScale,
      role: k.role ?? '',
      time: `${(model.results.filter((r) => r.kernel === k.id).reduce((sum, r) => sum + r.durationMs, 0) / 1000).toFixed(1)} s`,
    })),
    caseCount: rows.length,
    attentionCount,
    /** Something needs attention: the filter starts on, so it is what the first screen shows. */
    filterOn: attentionCount > 0,
    rows,
    comparisons: model.comparisons.map((c) => ({
      baseline: c.baseline.label,
      candidate: c.candidate.label,
      counts: Object.entries(c.counts).filter(([, n]) => n > 0).map(([cls, n]) => classCount(cls as ComparisonClass, n)).join(', '),
      cases: c.cases.filter((x) => x.class !== 'unchanged' || x.newReports.length).map((x) => ({
        class: x.class,
        key: caseKey(x),
        from: x.baseline?.status ?? '–',
        to: x.candidate?.status ?? '–',
        attempts: x.attempts ? `${x.attempts.baseline.join(', ')} / ${x.attempts.candidate.join(', ')}` : null,
        why: x.candidate?.reason ?? x.baseline?.reason ?? '',
        newReports: x.newReports,
      })),
    })),
    perPatch: model.matrix.kernels.some((k) => k.title) ? model.matrix.kernels.map((k, i) => (i === 0 ? 'the tree alone' : (k.title ?? k.spec))) : null,
    expectations: model.expectations
      ? [
          ...model.results.filter((r) => r.expected).map((r) => `${caseKey(r)} ${r.status} on ${kernelLabel(model, r.kernel)}: ${r.expected!.reason} (${r.expected!.entry})`),
          ...model.expectations.expired.map((e) => `expired, no longer applied: ${e}`),
          ...model.expectations.stale.map((e) => `stale: ${e.at}: ${e.why}`),
        ]
      : null,
    reports: model.reports.map((f) => ({ kernel: kernelLabel(model, f.kernel), kind: f.kind, text: f.text })),
    restarts: model.restarts.map((r) => `${kernelLabel(model, r.kernel)}: guest ${r.guest} for ${r.cases} case${r.cases === 1 ? '' : 's'}: ${r.reason}`),
  };
}
