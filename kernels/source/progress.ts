// What a long kernel build reports while it runs; `compile` details are what kbuild prints.
export type BuildProgress = {
  step: 'copy' | 'patch' | 'config' | 'compile' | 'headers';
  detail: string;
  /** For `compile`: kbuild's verb (CC, AS, LD, AR, HOSTCC, GEN, ...). */
  action?: string;
};

// kbuild's quiet output is "  VERB    target" (verb in upper case, padded to 8 columns).
const kbuildLine = /^ {2}([A-Z][A-Z0-9_]*(?: \[[A-Z]\])?) +(\S.*)$/;

// `  CC      mm/userfaultfd.o` -> { step: 'compile', detail: 'mm/userfaultfd.o', action: 'CC' };
// anything else (warnings, make's own chatter) -> null.
export function parseMakeLine(line: string): BuildProgress | null {
  const m = kbuildLine.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  return { step: 'compile', detail: m[2]!.trim(), action: m[1]!.replace(/ \[[A-Z]\]$/, '') };
}

/** The objects make compiled from C (the `CC` lines), in a saved log. */
export function compiledObjects(log: string): string[] {
  return log.split('\n').flatMap((line) => {
    const p = parseMakeLine(line);
    return p?.action === 'CC' ? [p.detail] : [];
  });
}

// The first line a person needs from a failed build: the compiler's `file:line:col: error:`,
// else a linker or make error. Paths inside the scratch source copy are shown tree-relative.
export function firstBuildError(log: string, sourceDir?: string): string | null {
  const lines = log.split('\n').map((l) => l.replace(/\r$/, ''));
  const strip = (l: string) => {
    if (!sourceDir) return l;
    const prefixes = [`${sourceDir}/`, `${sourceDir.replace(/\/+$/, '')}/`];
    let out = l;
    for (const p of prefixes) out = out.split(p).join('');
    return out;
  };
  const compiler = lines.find((l) => /^\S+?:\d+(?::\d+)?: (?:fatal )?error: /.test(l));
  if (compiler) return strip(compiler);
  const other = lines.find((l) => /undefined reference to|: error: |^ld: |No rule to make target/.test(l));
  if (other) return strip(other.trim());
  const make = lines.find((l) => /^make(?:\[\d+\])?: \*\*\* /.test(l));
  return make ? strip(make) : null;
}
