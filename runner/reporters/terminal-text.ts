// Text from kernels, suites and saved runs on a terminal or in a CI log, where a run.json from an
// untrusted job can be reported by a trusted one: it must stay text. Control characters would
// move the cursor, recolour, retitle the window or start a line of their own; a CI runner reads
// some lines as commands (GitHub: `::name::` at the start of a line after any blanks, `##[name]`
// anywhere in it), which would let the data annotate, mask or stop the job's own commands.

/** C0 controls but the tab, DEL and C1 controls (a lone 0x9b is a CSI to many terminals). */
const control = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

const hex = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Control characters shown as `\x1b`, visibly, so one piece of text stays on one line. */
export const terminalText = (text: string): string => text.replace(control, hex);

/** A whole line as it may be printed: its control characters shown, and nothing in it that a
 * CI runner takes for a command (the first `:` of a leading `::`, the first `#` of each `##[`,
 * shown as `\x3a` and `\x23`). */
export function terminalLine(text: string): string {
  return terminalText(text)
    .replace(/##\[/g, `${hex('#')}#[`)
    .replace(/^(\s*)::/, (_, blanks: string) => `${blanks}${hex(':')}:`);
}

/** The first line of a reason: the rest is in run.json and the reports. */
export const firstLine = (text: string): string => text.split('\n')[0]!;
