// git, make and format-patch messages are parsed, so they must not be translated.
export const cLocaleEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C', ...extra });
