import { attentionCounts, attentionItems, type AttentionItem, type AttentionTier } from '../model/attention.js';
import { caseKey, type RunModel } from '../model/types.js';
import { consoleText, parseCaseMark } from '../protocol/guest.js';
import { displayPath, type CaseConsoles } from './case-view.js';
import { htmlText, markdownLine } from './markdown.js';
import { statusMarks } from './summary.js';
import { terminalLine } from './terminal-text.js';

// The "needs attention" block as each report writes it: the terminal's lines and the step
// summary's Markdown here, the HTML's view from the same items (html.ts).

export const tierTitles: Record<AttentionTier, string> = {
  regression: 'regressions: these fail the run',
  failure: 'failures',
  known: 'known failures: these do not fail the run',
};

/** "1 regression, 2 failures, 1 known": the block's counters. */
export function attentionCounters(items: readonly AttentionItem[]): string {
  const counts = attentionCounts(items);
  const words: Record<AttentionTier, [string, string]> = { regression: ['regression', 'regressions'], failure: ['failure', 'failures'], known: ['known', 'known'] };
  return (Object.keys(counts) as AttentionTier[]).filter((t) => counts[t] > 0).map((t) => `${counts[t]} ${words[t][counts[t] === 1 ? 0 : 1]}`).join(', ');
}

/** What it is, in a word or two: its class for a regression (with the status it had and has), else its status. */
export function itemWhat(item: AttentionItem): string {
  if (item.tier === 'regression') return `${item.class}: ${item.from ? `${statusMarks[item.from]} -> ` : ''}${statusMarks[item.status]}`;
  return statusMarks[item.status];
}

/** suites/minor-faults.yaml:86, when the case's file is known. */
export function itemPlace(item: AttentionItem): string | null {
  return item.file ? `${displayPath(item.file)}${item.line ? `:${item.line}` : ''}` : null;
}

/** The terminal's block: a heading with the counts, each tier's items with their reason, place
 * and kernel report (its title and top frames), each line safe to print; nothing when nothing
 * needs attention. */
export function attentionLines(model: RunModel, frames = 3): string[] {
  const items = attentionItems(model);
  if (items.length === 0) return [];
  const lines = [`needs attention: ${attentionCounters(items)}`];
  for (const tier of Object.keys(tierTitles) as AttentionTier[]) {
    const mine = items.filter((x) => x.tier === tier);
    if (mine.length === 0) continue;
    lines.push(` ${tierTitles[tier]}`);
    for (const item of mine) {
      const place = itemPlace(item);
      lines.push(`  ${itemWhat(item)}  ${caseKey(item)} on ${item.kernels.join(', ')}${place ? `  ${place}` : ''}`);
      if (item.reason) lines.push(`      ${item.reason}`);
      if (item.more.length) lines.push(`      and ${item.more.length} more case${item.more.length === 1 ? '' : 's'} with the same reason: ${few(item.more)}`);
      if (item.known) lines.push(`      known: ${item.known}`);
      if (item.report && !item.reason?.includes(item.report.title)) lines.push(`      kernel ${item.report.kind}: ${item.report.title}`);
      if (item.report) for (const frame of item.report.trace.slice(0, frames + 1)) lines.push(`        ${frame}`);
    }
  }
  return lines.map(terminalLine);
}

/** The step summary's block in Markdown: a list per tier, each kernel report's title and call
 * trace top folded in a <details>. */
export function attentionMarkdown(model: RunModel, consoles: CaseConsoles | null): string[] {
  const items = attentionItems(model);
  if (items.length === 0) return [];
  const out = [`#### Needs attention: ${attentionCounters(items)}`, ''];
  for (const tier of Object.keys(tierTitles) as AttentionTier[]) {
    const mine = items.filter((x) => x.tier === tier);
    if (mine.length === 0) continue;
    out.push(`**${tierTitles[tier][0]!.toUpperCase()}${tierTitles[tier].slice(1)}**`, '');
    for (const item of mine) {
      const place = itemPlace(item);
      out.push(`- **${itemWhat(item)}** \`${caseKey(item)}\` on ${item.kernels.map(markdownLine).join(', ')}${place ? ` at \`${place}\`` : ''}${item.reason ? `: ${markdownLine(item.reason)}` : ''}${item.known ? ` (known: ${markdownLine(item.known)})` : ''}${item.more.length ? `; and ${item.more.length} more with the same reason: ${few(item.more.map((k) => `\`${k}\``))}` : ''}`);
      const folded = item.report ? { title: `kernel ${item.report.kind}: ${item.report.title}`, lines: item.report.trace } : { title: 'its output', lines: outputTop(consoles?.(item.kernelId, item) ?? '') };
      if (folded.lines.length) out.push(`  <details><summary>${htmlText(folded.title)}</summary>`, '', '  ```', ...folded.lines.map((l) => `  ${l.replace(/`/g, "'")}`), '  ```', '  </details>');
    }
    out.push('');
  }
  return out;
}

/** The first lines a case's console holds besides its own begin and end marks, enough to see how
 * it started to go wrong; none when the marks are all it holds. */
const outputTop = (text: string, lines = 12) => text.split('\n').filter((l) => l.trim() && !parseCaseMark(consoleText(l))).slice(0, lines);

/** A few names of a list, the rest counted: run.json has them all. */
const few = (names: readonly string[], shown = 5) => `${names.slice(0, shown).join(', ')}${names.length > shown ? `, … (${names.length - shown} more)` : ''}`;

