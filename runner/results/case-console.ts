import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { caseKey, type RunModel } from '../model/types.js';
import type { CaseConsoles } from '../reporters/case-view.js';
import { consoleText, parseCaseMark } from '../protocol/guest.js';

/** At most this many console lines per case in a report: enough for a kernel report and its trace. */
const maxLines = 120;


// What the kernel printed while each case ran: the stretch of its guest's console log the run
// recorded for it (its excerpt), from the helper's begin mark to its end mark, or to the end of
// the console when the guest died in the case. A run from before excerpts is read by its marks.
export function caseConsoles(resultsDir: string, model: RunModel): CaseConsoles {
  // Only each excerpt's own bytes are read, when a report asks for it: holding every console of
  // a large run whole while the reports are written cost memory in proportion to the run.
  const missing = new Set<string>();
  const excerptOf = (path: string, start: number, end: number): Buffer | null => {
    if (missing.has(path)) return null;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      missing.add(path); // the run.json was copied without its consoles
      return null;
    }
    try {
      const bytes = Buffer.alloc(Math.max(0, end - start));
      return bytes.subarray(0, readSync(fd, bytes, 0, bytes.length, start));
    } finally {
      closeSync(fd);
    }
  };
  const dirOf = (kernel: string) => join(resultsDir, model.kernels.find((k) => k.id === kernel)?.dir ?? '');
  const byResult = new Map(model.results.map((r) => [`${r.kernel}\0${caseKey(r)}`, r] as const));
  const scanned = new Map<string, Map<string, string>>();
  return (kernel, ref) => {
    const excerpt = byResult.get(`${kernel}\0${caseKey(ref)}`)?.excerpt;
    if (excerpt) {
      const bytes = excerptOf(join(dirOf(kernel), excerpt.file), excerpt.start, excerpt.end);
      return bytes ? trim(bytes.toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''))) : null;
    }
    if (!scanned.has(kernel)) scanned.set(kernel, scanMarks(dirOf(kernel)));
    return scanned.get(kernel)!.get(caseKey(ref)) ?? null;
  };
}

/** Every case's lines by its marks, from the consoles of a run that recorded no excerpts. */
function scanMarks(dir: string): Map<string, string> {
  const excerpts = new Map<string, string>();
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => /^console(-\d+)?\.log$/.test(f)).sort((a, b) => guestOf(a) - guestOf(b));
  } catch {
    // no consoles saved (a host run, or a run read from run.json alone)
  }
  for (const file of files) collect(readFileSync(join(dir, file), 'utf8'), excerpts);
  return excerpts;
}

function guestOf(file: string): number {
  return Number(/-(\d+)\.log$/.exec(file)?.[1] ?? 1);
}

function collect(text: string, into: Map<string, string>): void {
  let open: { key: string; lines: string[] } | null = null;
  const close = () => {
    if (open && !into.has(open.key)) into.set(open.key, trim(open.lines));
    open = null;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = parseCaseMark(consoleText(line));
    if (m?.edge === 'begin') {
      close();
      open = { key: caseKey(m.ref), lines: [line] };
    } else if (open) {
      (open as { lines: string[] }).lines.push(line);
      if (m?.edge === 'end') close();
    }
  }
  close();
}

function trim(lines: string[]): string {
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  if (lines.length <= maxLines) return lines.join('\n');
  return [...lines.slice(0, maxLines - 1), `... ${lines.length - maxLines + 1} more lines in the console log`].join('\n');
}
