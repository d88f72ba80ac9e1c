import { FaultlineError } from '../core/errors.js';

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** A week: far past any real run, and inside what a timer can count (2^31 ms is about 24 days). */
const maxMs = 7 * 24 * 3_600_000;

// `--timeout` needs its unit: a bare 60 would be read by some as seconds and by others as
// milliseconds, and either reading makes a surprising run.
export function parseRunTimeout(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!match) {
    const hint = /^\d+$/.test(text.trim()) ? `Give it a unit: --timeout ${text.trim()}s or --timeout ${text.trim()}m.` : 'e.g. --timeout 30m, 90s, 2h or 500ms.';
    throw new FaultlineError('usage', `--timeout ${text} is not a duration with a unit (ms, s, m or h)`, { hint });
  }
  const ms = Number(match[1]) * units[match[2]!]!;
  if (ms === 0) throw new FaultlineError('usage', `--timeout ${text} is zero`, { hint: 'Give a positive limit, e.g. --timeout 30m, or leave it out for no limit.' });
  if (ms > maxMs) throw new FaultlineError('usage', `--timeout ${text} is longer than a week (168h), the longest limit faultline keeps`, { hint: 'Give at most --timeout 168h, or leave it out for no limit.' });
  return ms;
}
