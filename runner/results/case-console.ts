import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseKey, type CaseRef, type RunModel } from '../model/types.js';

/** At most this many console lines per case in a report: enough for a splat and its trace. */
const maxLines = 120;
const mark = /faultline: case (\S+) (begin|end)$/;

/** The console lines a case printed, by kernel id and case; null when none were saved. */
export type CaseConsoles = (kernel: string, ref: CaseRef) => string | null;

// What the kernel printed while each case ran, from the consoles a run left (console.log,
// console-2.log after a restart; a rerun's are not the case's first run): the lines between the
// helper's begin and end marks, or to the end of the console when the guest died in the case.
export function caseConsoles(resultsDir: string, model: RunModel): CaseConsoles {
  const byKernel = new Map<string, Map<string, string>>();
  const load = (kernel: string): Map<string, string> => {
    const known = byKernel.get(kernel);
    if (known) return known;
    const excerpts = new Map<string, string>();
    const dir = join(resultsDir, model.kernels.find((k) => k.id === kernel)?.dir ?? '');
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => /^console(-\d+)?\.log$/.test(f)).sort((a, b) => guestOf(a) - guestOf(b));
    } catch {
      // no consoles saved (a host run, or a run read from run.json alone)
    }
    for (const file of files) collect(readFileSync(join(dir, file), 'utf8'), excerpts);
    byKernel.set(kernel, excerpts);
    return excerpts;
  };
  return (kernel, ref) => load(kernel).get(caseKey(ref)) ?? null;
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
    const m = mark.exec(line);
    if (m?.[2] === 'begin') {
      close();
      open = { key: m[1]!, lines: [line] };
    } else if (open) {
      (open as { lines: string[] }).lines.push(line);
      if (m?.[2] === 'end') close();
    }
  }
  close();
}

function trim(lines: string[]): string {
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  if (lines.length <= maxLines) return lines.join('\n');
  return [...lines.slice(0, maxLines - 1), `... ${lines.length - maxLines + 1} more lines in the console log`].join('\n');
}
