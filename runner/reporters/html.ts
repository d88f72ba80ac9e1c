import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { projectRoot } from '../core/paths.js';
import { classCount, kernelLabel, verdictOf } from '../model/summary.js';
import { caseKey, type ComparisonClass, type KernelReport, type RunModel } from '../model/types.js';
import { consoleText } from '../protocol/guest.js';
import { caseViews, displayPath, type CaseConsoles } from './case-view.js';
import { attentionView, rowIds } from './html-attention.js';
import { resourceFixes, skipBreakdown, statusMarks, summaryLine } from './summary.js';

let template: Handlebars.TemplateDelegate | undefined;

// Its own Handlebars, so the helper is not registered for every other user of the module.
const handlebars = Handlebars.create();
// A name (kernel label, case, path) may break after - / : . and nowhere else. Escaped first, so
// the only markup is the <wbr> added; no entity escaping makes (&amp;, &#x27;, ...) holds one of them.
handlebars.registerHelper('wbr', (text: unknown) => new handlebars.SafeString(handlebars.escapeExpression(String(text ?? '')).replace(/([-/:.])/g, '$1<wbr>')));

// report.html: one file that works offline (no script, font or style from anywhere else), on a
// phone and a wide screen: what needs attention first, then the cases x kernels matrix, each
// status coloured and written out, a filter for what needs attention, each cell opening the
// reason, the kernel reports and the console lines; the kernels, the comparisons and the known
// failures. Handlebars escapes every value, so kernel text cannot become markup.
export function htmlReport(model: RunModel, consoles: CaseConsoles | null): string {
  template ??= handlebars.compile(readFileSync(join(projectRoot, 'runner', 'reporters', 'html', 'report.hbs'), 'utf8'), { strict: false });
  return template(htmlView(model, consoles));
}

export function htmlView(model: RunModel, consoles: CaseConsoles | null) {
  const verdict = verdictOf(model, model.failOn);
  const views = caseViews(model, consoles);
  const kernels = [...model.kernels].sort((a, b) => a.index - b.index);
  const ms = model.finishedAt ? Date.parse(model.finishedAt) - Date.parse(model.startedAt) : 0;
  const ids = rowIds(model.matrix.cases.map(caseKey));
  const attention = attentionView(model, ids);
  // By key, the first view of each (kernel, case): a search per cell made 50k results quadratic.
  const viewOf = new Map<string, (typeof views)[number]>();
  for (const v of views) if (!viewOf.has(`${v.result.kernel}\0${caseKey(v.result)}`)) viewOf.set(`${v.result.kernel}\0${caseKey(v.result)}`, v);
  const timeOf = new Map<string, number>();
  for (const r of model.results) timeOf.set(r.kernel, (timeOf.get(r.kernel) ?? 0) + r.durationMs);
  const rows = model.matrix.cases.map((planned) => {
    const key = caseKey(planned);
    const cells = kernels.map((k, i) => {
      const view = viewOf.get(`${k.id}\0${key}`);
      if (!view) return { kernel: k.label, column: `#${i + 1}`, status: 'none', result: false };
      const r = view.result;
      return {
        kernel: k.label,
        column: `#${i + 1}`,
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
        console: view.console === null ? null : withoutReports(view.console, r.reports ?? []),
      };
    });
    // The filter keeps the rows the attention block names, so it never hides what failed the run.
    return { key, id: ids.get(key)!, file: planned.file ? displayPath(planned.file) : null, line: planned.line, cells, quiet: !attention.keys.has(key) };
  });
  const attentionCount = rows.filter((r) => !r.quiet).length;
  return {
    verdict: { ok: verdict.exitCode === 0, text: verdict.exitCode === 0 ? 'passed' : verdict.why.join('; ') },
    attention: attention.view,
    summary: summaryLine(model, ms),
    skips: skipBreakdown(model),
    fixes: resourceFixes(model),
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
      time: `${((timeOf.get(k.id) ?? 0) / 1000).toFixed(1)} s`,
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
          ...(model.expectations.deferred ?? []).map((e) => `not judged here: ${e.at}: ${e.why}`),
        ]
      : null,
    reports: model.reports.map((f) => ({ kernel: kernelLabel(model, f.kernel), kind: f.kind, text: f.text })),
    restarts: model.restarts.map((r) => `${kernelLabel(model, r.kernel)}: guest ${r.guest} for ${r.cases} case${r.cases === 1 ? '' : 's'}: ${r.reason}`),
  };
}

/** Lines the kernel may print inside a report before the rest of it is taken for missing. */
const interleaved = 20;

/** A case's console with each kernel report's lines left out, one line saying where it was: the
 * cell shows the report's text above it, and the same oops twice made a crash cell twice as long.
 * A report is matched line by line in order (lines the kernel interleaved stay); one whose first
 * line the console lacks (cut at its line limit) stays in it. */
export function withoutReports(text: string, reports: readonly KernelReport[]): string {
  const lines = text.split('\n');
  const texts = lines.map((l) => consoleText(l).trimEnd());
  const dropped = new Map<number, string>();
  let from = 0;
  for (const report of reports) {
    const wanted = report.text.split('\n').map((l) => l.trimEnd());
    const start = texts.indexOf(wanted[0]!, from);
    if (start < 0) continue;
    let j = 0;
    let i = start;
    // Stop where the report no longer follows, rather than take its lines from far below.
    for (let missed = 0; i < lines.length && j < wanted.length && missed <= interleaved; i++) {
      if (texts[i] !== wanted[j]) missed++;
      else {
        dropped.set(i, j === 0 ? `[kernel ${report.kind}: ${wanted.length} lines, shown above]` : '');
        j++;
        missed = 0;
      }
    }
    from = i;
  }
  if (dropped.size === 0) return text;
  // Between the first report and the last, a line that repeats one of theirs goes too: a panic
  // prints the oops's registers again.
  const shown = new Set(reports.flatMap((f) => f.text.split('\n').map((l) => l.trimEnd())).filter((l) => l.trim()));
  const ends = [...dropped.keys()];
  for (let i = Math.min(...ends); i < Math.max(...ends); i++) if (!dropped.has(i) && shown.has(texts[i]!)) dropped.set(i, '');
  return lines.flatMap((line, i) => {
    const mark = dropped.get(i);
    return mark === undefined ? [line] : mark ? [mark] : [];
  }).join('\n');
}
