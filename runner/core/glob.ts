// Globs come from users (expectation files, `--kernel debian:` patterns), so matching must never
// backtrack: a greedy scan that only ever returns to the last `*` takes at most
// pattern x text steps, where a RegExp of `.*` runs took exponential time.

/** `*` any run of characters, `?` one; the rest literally; the whole text must match. */
export function globMatch(glob: string, text: string): boolean {
  const pattern = collapseStars(Array.from(glob));
  const chars = Array.from(text);
  let p = 0;
  let t = 0;
  // Where the last `*` was, and the text position it is currently taken to end at.
  let star = -1;
  let starEnd = 0;
  while (t < chars.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      starEnd = t;
    } else if (c !== undefined && (c === '?' || c === chars[t])) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++starEnd;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

function collapseStars(pattern: string[]): string[] {
  return pattern.filter((c, i) => c !== '*' || pattern[i - 1] !== '*');
}
