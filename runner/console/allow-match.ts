import { createContext, Script } from 'node:vm';

/** Long enough for any sane pattern on a 200-line report (a match takes well under 1 ms). */
export const allowMatchBudgetMs = 100;

const script = new Script('pattern.test(text)');
const context = createContext({ pattern: /$^/, text: '' });
const gaveUp = new WeakSet<RegExp>();

export type AllowMatch = 'match' | 'no-match' | 'gave-up';

// A suite's allow pattern is the user's regular expression run on kernel text: one that
// backtracks catastrophically would hold the event loop, and with it every timer, the signal
// handlers and the results. It runs under V8's execution limit instead; a pattern that hits the
// limit is not applied, now or later in the run.
export function matchAllowPattern(pattern: RegExp, text: string): AllowMatch {
  if (gaveUp.has(pattern)) return 'gave-up';
  context.pattern = pattern;
  context.text = text;
  try {
    return script.runInContext(context, { timeout: allowMatchBudgetMs }) ? 'match' : 'no-match';
  } catch {
    gaveUp.add(pattern);
    return 'gave-up';
  } finally {
    context.text = '';
  }
}
