// The words the guest and the host exchange on the console, in one place: the agent's lines
// (images/guest/init), the helper's case marks and program lines (suites/native/runner.c, written
// to /dev/kmsg so they interleave exactly with kernel messages). The live watcher, the boot, the
// report excerpts and test/vocabulary.test.ts (against the C and shell sources) all read these.

/** Every line of faultline's own starts with this; the kernel never prints it. */
export const markPrefix = 'faultline: ';

/** The agent has mounted what the cases need and is about to start the helper. */
export const agentReadyLine = 'faultline: agent ready';

/** What the helper puts before each line a test program prints, in the kernel log, followed by
 * the case's name in brackets (`faultline-out: [suite/case] line`): programs run side by side. */
export const programLinePrefix = 'faultline-out: ';

export type MarkEdge = 'begin' | 'end';

/** A case as a mark names it: suite and case names are [A-Za-z0-9._-]+ (the suite schema's rule). */
export interface MarkedCase {
  suite: string;
  case: string;
}

const caseMark = /^faultline: case ([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+) (begin|end)$/;
const taskMark = /^faultline: case ([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+) task (\d+)$/;
const agentDone = /^faultline: agent done rc=(\d+)$/;
// `[    1.234567] ` and, with CONFIG_PRINTK_CALLER, `[    T1] `.
const timestamp = /^\[\s*\d+\.\d+\](\[\s*[TC]\d+\])?\s?/;

/** A console line as the kernel's printk wrote it, without its carriage returns and timestamp. */
export function consoleText(raw: string): string {
  return raw.replace(/\r/g, '').replace(timestamp, '');
}

/** The helper's mark of a case beginning or ending, from a line's text (consoleText). */
export function parseCaseMark(text: string): { ref: MarkedCase; edge: MarkEdge } | null {
  const m = caseMark.exec(text.trim());
  return m ? { ref: { suite: m[1]!, case: m[2]! }, edge: m[3] as MarkEdge } : null;
}

/** The mark's text, as the helper prints it. */
export function caseMarkText(ref: MarkedCase, edge: MarkEdge): string {
  return `${markPrefix}case ${ref.suite}/${ref.case} ${edge}`;
}

/** A task (process or thread) of a running case, by the kernel's pid a report would name it by:
 * `faultline: case <suite>/<case> task <PID>`, written by the task itself before it does anything
 * the case checks (a program's tasks are named by the helper as it finds them). */
export function parseTaskMark(text: string): { ref: MarkedCase; pid: number } | null {
  const m = taskMark.exec(text.trim());
  return m ? { ref: { suite: m[1]!, case: m[2]! }, pid: Number(m[3]) } : null;
}

/** The task mark's text, as the helper prints it. */
export function taskMarkText(ref: MarkedCase, pid: number): string {
  return `${markPrefix}case ${ref.suite}/${ref.case} task ${pid}`;
}

const programTag = /^\[([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)\] /;

/** A program's line echoed by the helper, from a line's text (consoleText): whose it is (null in
 * consoles from helpers that did not name the case: the one case running then) and the line. */
export function parseProgramLine(text: string): { ref: MarkedCase | null; line: string } | null {
  if (!text.startsWith(programLinePrefix)) return null;
  const rest = text.slice(programLinePrefix.length);
  const m = programTag.exec(rest);
  return m ? { ref: { suite: m[1]!, case: m[2]! }, line: rest.slice(m[0].length) } : { ref: null, line: rest };
}

/** A program line's text, as the helper prints it. */
export function programLineText(ref: MarkedCase, line: string): string {
  return `${programLinePrefix}[${ref.suite}/${ref.case}] ${line}`;
}

/** The agent's last line, `faultline: agent done rc=N`: the helper's exit code, or null. */
export function parseAgentDone(text: string): number | null {
  const m = agentDone.exec(text.trim());
  return m ? Number(m[1]) : null;
}

export const isAgentReady = (text: string): boolean => text.trim() === agentReadyLine;
