// Text from kernels, suites and users inside the step summary's Markdown, which GitHub renders
// with raw HTML allowed (so <details> works): it must stay text.

/** As HTML text: a kernel's "<TASK>" or a title with tags shows as written. */
export const htmlText = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One line of text for a list item or table cell: its first line, no markup, no cell break. */
export const markdownLine = (text: string): string => htmlText(text.split('\n')[0]!).replace(/\|/g, '\\|');
