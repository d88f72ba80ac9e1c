import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const defaultDebianMirror = 'http://deb.debian.org/debian';

/** Where to point debootstrap, and what said so (for progress and messages). */
export interface MirrorChoice {
  url: string;
  from: string;
}

interface AptSource {
  uri: string;
  suites: string[];
  file: string;
}

// The mirror this machine's apt already uses for the suite (a workplace or local mirror is often
// the only one reachable), unless FAULTLINE_DEBIAN_MIRROR or a flag names one; Debian's public
// mirror otherwise.
export function chooseDebianMirror(suite: string, override?: string, env: NodeJS.ProcessEnv = process.env, aptDir = '/etc/apt'): MirrorChoice {
  if (override) return { url: override, from: 'the --mirror flag' };
  if (env.FAULTLINE_DEBIAN_MIRROR) return { url: env.FAULTLINE_DEBIAN_MIRROR, from: 'FAULTLINE_DEBIAN_MIRROR' };
  const source = aptSources(aptDir).find((s) => s.suites.includes(suite) && /^(https?|file):/.test(s.uri));
  if (source) return { url: source.uri.replace(/\/+$/, ''), from: source.file };
  return { url: defaultDebianMirror, from: `Debian's default (no ${suite} source in ${aptDir}/sources.list*)` };
}

/** The `deb` sources apt reads: sources.list and sources.list.d/*.list in one-line form, *.sources in deb822 form. */
export function aptSources(aptDir: string): AptSource[] {
  const files = [join(aptDir, 'sources.list'), ...listDir(join(aptDir, 'sources.list.d')).map((f) => join(aptDir, 'sources.list.d', f))];
  const sources: AptSource[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (file.endsWith('.sources')) sources.push(...deb822Sources(text, file));
    else if (file.endsWith('.list')) sources.push(...oneLineSources(text, file));
  }
  return sources;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

// `deb [arch=amd64 signed-by=...] http://mirror/debian bookworm main`
function oneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ uri: m[1]!, suites: [m[2]!], file });
  }
  return out;
}

// Stanzas separated by blank lines; `Key: value` with continuation lines indented.
function deb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let key = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m) {
        key = m[1]!.toLowerCase();
        fields.set(key, m[2]!);
      } else if (/^\s/.test(line) && key) fields.set(key, `${fields.get(key)} ${line.trim()}`);
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if (/^(no|false)$/i.test(fields.get('enabled') ?? '')) continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) out.push({ uri, suites, file });
  }
  return out;
}
