import { execa } from 'execa';
import { cLocaleEnv } from '../runner/core/env.js';
import { requireTool } from '../runner/core/tools.js';

/** What the apt lists say about a package's candidate version. */
export interface AptRecord {
  package: string;
  section: string;
  /** The first alternative of each dependency, without its version. */
  depends: string[];
  /** The .deb's size in bytes. */
  size: number;
}

// One apt-cache call for many names: a package with no candidate (a virtual name) is absent
// from the answer, as apt prints nothing for it.
export async function aptRecords(names: readonly string[], signal?: AbortSignal): Promise<Map<string, AptRecord>> {
  const records = new Map<string, AptRecord>();
  if (names.length === 0) return records;
  const aptCache = await requireTool('apt-cache', 'apt');
  const result = await execa(aptCache, ['show', '--no-all-versions', ...names], { reject: false, env: cLocaleEnv(), ...(signal ? { cancelSignal: signal } : {}) });
  signal?.throwIfAborted();
  for (const stanza of result.stdout.split(/\n\s*\n/)) {
    const fields = new Map([...stanza.matchAll(/^([A-Za-z0-9-]+): ?(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const));
    const name = fields.get('Package');
    if (!name) continue;
    records.set(name, {
      package: name,
      section: fields.get('Section') ?? '',
      depends: (fields.get('Depends') ?? '').split(',').map((d) => d.split('|')[0]!.trim().split(/[\s(]/)[0]!).filter(Boolean),
      size: Number(fields.get('Size') ?? 0),
    });
  }
  return records;
}
