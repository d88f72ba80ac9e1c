import { createHash } from 'node:crypto';
import { kernelLabel, verdictOf } from '../model/summary.js';
import { failsRun, isFailingStatus } from '../model/status.js';
import { caseKey, type CaseResult, type RunModel } from '../model/types.js';
import { caseViews, type CaseConsoles, type CaseView } from './case-view.js';
import { attentionMarkdown } from './attention.js';
import { markdownLine } from './markdown.js';
import { comparisonLines, resourceFixes, skipBreakdown, statusMarks } from './summary.js';

/** What the runner shows of one step; the rest would be dropped without a word. */
export const shownPerStep = 10;
/** $GITHUB_STEP_SUMMARY takes at most 1 MiB per step. */
export const summaryLimit = 1024 * 1024;
const reportLines = 6;

/** Workflow command data: %, CR and LF escaped. */
export const escapeData = (text: string): string => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
/** Workflow command properties: also : and ,. */
export const escapeProperty = (text: string): string => escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');

// GitHub Actions: an ::error per regression (or, without a comparison, per failure no
// expectation knows), at the line of the step it failed in (else its case's), with the reason
// and the first lines of its kernel reports; a ::warning per flaky case and per case that fails
// on both kernels. Past the runner's ten of a kind,
// one ::notice names the rest. Each annotated case's reports and console lines follow, folded.
export function githubAnnotations(model: RunModel, consoles: CaseConsoles | null): string {
  const views = caseViews(model, consoles);
  const compared = model.comparisons.length > 0;
  const errors = views.filter((v) => (compared ? v.comparison === 'regression' : failsRun(v.result)));
  // A case failing on both kernels is no fault of the series, but it still failed: a warning.
  const warnings = compared ? views.filter((v) => v.comparison === 'flaky' || (v.comparison !== null && v.comparison !== 'regression' && failsRun(v.result))) : [];
  const out: string[] = [];
  for (const [kind, list] of [['error', errors], ['warning', warnings]] as const) {
    for (const view of list.slice(0, shownPerStep)) out.push(annotation(kind, view));
    const rest = list.slice(shownPerStep);
    if (rest.length > 0) {
      const names = rest.map((v) => `${v.label} ${caseKey(v.result)}`).join(', ');
      out.push(`::notice title=${escapeProperty(`faultline: ${rest.length} more ${kind === 'error' ? (compared ? 'regressions' : 'failures') : 'warnings'}`)}::${escapeData(`Not annotated (the runner shows ${shownPerStep} per step): ${names}. All are in the step summary and run.json.`)}`);
    }
  }
  for (const view of [...errors, ...warnings]) {
    const text = [...(view.result.reports ?? []).map((f) => f.text), view.console ? `console:\n${view.console}` : ''].filter(Boolean).join('\n\n');
    if (!text) continue;
    // Kernel text is shown as it is, with the runner's command processing off around it: no line
    // of it (however indented, `::` or `##[`) can issue a command. The end token is a hash of the
    // text, which the text cannot contain, and the same when a saved run is reported again.
    const token = createHash('sha256').update(text).digest('hex').slice(0, 32);
    out.push(`::group::${escapeData(`${view.label} ${caseKey(view.result)}: kernel reports and console`)}`, `::stop-commands::${token}`, text, `::${token}::`, '::endgroup::');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

function annotation(kind: 'error' | 'warning', view: CaseView): string {
  const r = view.result;
  const what = view.comparison ?? r.status;
  const title = `${what}: ${caseKey(r)} on ${view.label}`;
  const reports = (r.reports ?? []).flatMap((f) => f.text.split('\n').slice(0, reportLines));
  const message = [r.reason ?? r.status, ...(reports.length ? ['', ...reports] : [])].join('\n');
  // At the step the message names, when the helper said which; else at the case.
  const line = r.stepLine ?? view.line;
  const place = view.file ? `file=${escapeProperty(view.file)},${line ? `line=${line},` : ''}` : '';
  return `::${kind} ${place}title=${escapeProperty(title)}::${escapeData(message)}`;
}

// The step summary: the verdict in a line, where each kernel ran, the skips by cause, what needs
// attention, the cases x kernels table of what did not pass, the comparison and the known failures; cut short, with a note, before the
// runner's limit rather than failing the step.
export function stepSummary(model: RunModel, consoles: CaseConsoles | null = null, env: NodeJS.ProcessEnv = process.env): string {
  const verdict = verdictOf(model, model.failOn);
  const s = model.summary;
  const counts = `${s.pass} passed, ${s.fail} failed, ${s.skip} skipped${s.timeout ? `, ${s.timeout} timed out` : ''}${s.crash ? `, ${s.crash} crashed` : ''}${s.error ? `, ${s.error} errored` : ''}`;
  // A run that ended on a build or boot failure (exit 2 or 3) says that, not what its cases' verdict would be.
  const stoppedBy = (model.exitCode ?? 0) > 1 ? model.why[0] : undefined;
  const why = stoppedBy ? `exit ${model.exitCode}: ${stoppedBy}` : verdict.why.join('; ');
  const head = verdict.exitCode === 0 && !stoppedBy ? `### ✅ faultline: passed (${counts})` : `### ❌ faultline: ${why} (${counts})`;
  const parts = [head, '', `**Kernels:** ${kernelsLine(model)}`, ''];
  // The action names the artifact it uploads the results directory as.
  if (env.FAULTLINE_ARTIFACT) parts.push(`**Report:** \`report.html\` in the workflow run's artifact \`${env.FAULTLINE_ARTIFACT.replace(/`/g, "'")}\``, '');
  const skips = skipBreakdown(model);
  const fixes = resourceFixes(model).map((fix) => `- ${markdownLine(fix)}`);
  if (skips) parts.push(markdownLine(skips), '', ...(fixes.length ? [...fixes, ''] : []));
  parts.push(...attentionMarkdown(model, consoles));
  const table = notPassedTable(model);
  if (table.length) parts.push('#### What did not pass', '', ...table, '');
  for (const c of model.comparisons) parts.push('#### Comparison', '', '```', ...comparisonLines(c), '```', '');
  const known = model.results.filter((r) => r.expected);
  if (known.length || model.expectations?.stale.length || model.expectations?.expired.length || model.expectations?.deferred?.length) {
    parts.push('#### Known failures', '');
    for (const r of known) parts.push(`- \`${caseKey(r)}\` ${r.status} on ${kernelLabel(model, r.kernel)}: ${markdownLine(r.expected!.reason)} (${r.expected!.entry})`);
    for (const e of model.expectations?.expired ?? []) parts.push(`- expired, no longer applied: ${markdownLine(e)}`);
    for (const e of model.expectations?.stale ?? []) parts.push(`- stale: ${markdownLine(e.at)}: ${markdownLine(e.why)}`);
    for (const e of model.expectations?.deferred ?? []) parts.push(`- not judged here: ${markdownLine(e.at)}: ${markdownLine(e.why)}`);
    parts.push('');
  }
  return fit(`${parts.join('\n')}\n`);
}

function notPassedTable(model: RunModel): string[] {
  const kernels = [...model.kernels].sort((a, b) => a.index - b.index);
  const failing = new Set(model.results.filter((r) => isFailingStatus(r.status)).map(caseKey));
  const rows = model.matrix.cases.filter((c) => failing.has(caseKey(c)));
  if (rows.length === 0) return [];
  const results = new Map<string, CaseResult>();
  for (const r of model.results) if (!results.has(`${r.kernel}\0${caseKey(r)}`)) results.set(`${r.kernel}\0${caseKey(r)}`, r);
  const status = (kernel: string, key: string) => {
    const r = results.get(`${kernel}\0${key}`);
    if (!r) return '–';
    const why = isFailingStatus(r.status) && r.reason ? `: ${short(r.reason)}` : '';
    return `${statusMarks[r.status]}${r.expected ? ' (known)' : ''}${why}`;
  };
  return [
    `| case | ${kernels.map((k) => markdownLine(k.label)).join(' | ')} |`,
    `|---|${kernels.map(() => '---').join('|')}|`,
    ...rows.map((c) => `| \`${caseKey(c)}\` | ${kernels.map((k) => status(k.id, caseKey(c))).join(' | ')} |`),
  ];
}


/** A reason's first line, at most 100 characters, for a table cell. */
const short = (text: string) => {
  const first = text.split('\n')[0]!;
  return markdownLine(first.length > 100 ? `${first.slice(0, 99)}…` : first);
};

/** Each kernel with where it ran and how its time limits were scaled: TCG's are invisible otherwise. */
function kernelsLine(model: RunModel): string {
  return [...model.kernels]
    .sort((a, b) => a.index - b.index)
    .map((k) => `${markdownLine(k.label)} (${k.accel === null ? 'never resolved' : k.accel === 'host' ? 'on the host' : `${k.accel.toUpperCase()}${k.timeoutScale !== 1 ? `, guest time limits x${k.timeoutScale}` : ''}`})`)
    .join('; ');
}

function fit(markdown: string): string {
  if (Buffer.byteLength(markdown) <= summaryLimit) return markdown;
  const note = '\n\n_The summary was cut here to stay under the 1 MiB GitHub allows; run.json and report.html in the results have everything._\n';
  let cut = markdown.slice(0, summaryLimit - Buffer.byteLength(note) - 1024);
  while (Buffer.byteLength(cut) > summaryLimit - Buffer.byteLength(note)) cut = cut.slice(0, -1024);
  return `${cut.slice(0, cut.lastIndexOf('\n'))}${note}`;
}

