import { attentionItems, attentionTiers, type AttentionItem } from '../model/attention.js';
import { caseKey, type RunModel } from '../model/types.js';
import { attentionCounters, itemPlace, itemWhat, tierTitles } from './attention.js';

// The top of report.html: what needs attention, in the terminal's words (attention.ts), each
// item linked to its row of the matrix, and the rows the matrix's filter keeps.

/** A matrix row's id for each case key: what an item links to. Ids stay unique though two keys
 * may sanitize alike (s/a and s-a). */
export function rowIds(keys: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const key of keys) {
    const base = `case-${key.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    ids.set(key, id);
  }
  return ids;
}

export function attentionView(model: RunModel, ids: ReadonlyMap<string, string>) {
  const items = attentionItems(model);
  const link = (key: string) => ({ key, href: ids.has(key) ? `#${ids.get(key)}` : null });
  const tiers = attentionTiers.map((tier) => ({ tier, items: items.filter((x) => x.tier === tier) })).filter((t) => t.items.length > 0);
  return {
    /** Every case an item names: the rows the filter keeps. */
    keys: new Set(items.flatMap((x) => [caseKey(x), ...x.more])),
    view: items.length === 0 ? null : {
      /** The block's colour: red unless all it holds is known. */
      worst: tiers[0]!.tier,
      counters: tiers.map((t) => ({ text: attentionCounters(t.items), href: `#attention-${t.tier}` })),
      tiers: tiers.map((t) => ({
        id: `attention-${t.tier}`,
        tier: t.tier,
        title: tierTitles[t.tier],
        items: t.items.map((x) => itemView(x, link)),
      })),
    },
  };
}

/** Cases named of those the runner left with one reason, as the step summary names them; the
 * matrix's filter keeps all their rows. */
const moreShown = 5;

function itemView(item: AttentionItem, link: (key: string) => { key: string; href: string | null }) {
  return {
    what: itemWhat(item),
    cls: item.tier === 'regression' ? 'regression' : item.tier === 'known' ? 'known-item' : item.status,
    ...link(caseKey(item)),
    kernels: item.kernels,
    place: itemPlace(item),
    reason: item.reason,
    known: item.known,
    more: item.more.length ? { count: `${item.more.length} more case${item.more.length === 1 ? '' : 's'}`, cases: item.more.slice(0, moreShown).map(link), rest: item.more.length > moreShown ? `… (${item.more.length - moreShown} more)` : null } : null,
    report: item.report ? { title: `kernel ${item.report.kind}: ${item.report.title}`, trace: item.report.trace.join('\n') } : null,
  };
}
