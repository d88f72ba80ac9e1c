import { realpathSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FaultlineError } from './core/errors.js';
import { defaultSuitesDir } from './core/paths.js';
import { loadSuite } from './suite/load.js';
import type { Suite } from './suite/model.js';
import type { PlannedCase } from './model/types.js';

export interface LoadedSuites {
  suites: Suite[];
  planned: PlannedCase[];
}

// The suites a run uses: the ones named, or every shipped suite when none is.
export async function suiteFiles(named: readonly string[]): Promise<string[]> {
  if (named.length > 0) return [...named];
  const entries = await readdir(defaultSuitesDir);
  const files = entries.filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(defaultSuitesDir, f));
  if (files.length === 0) throw new FaultlineError('suite', `no suites in ${defaultSuitesDir}`, { hint: 'Pass one with --suite FILE.' });
  return files;
}

/** A file named twice (`--suite a.yaml --suite ./a.yaml`) is one suite, run once. */
function distinctFiles(files: readonly string[]): string[] {
  const seen = new Set<string>();
  return files.filter((f) => {
    let key = resolve(f);
    try {
      key = realpathSync(f);
    } catch {
      // a missing file is reported when it is read
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Loads, validates and compiles; `only` filters cases by `suite/case` or case name substrings. */
export async function loadSuites(files: readonly string[], only: readonly string[] = []): Promise<LoadedSuites> {
  const suites = await Promise.all(distinctFiles(files).map((f) => loadSuite(f)));
  const names = new Map<string, string>();
  for (const s of suites) {
    const other = names.get(s.name);
    if (other) throw new FaultlineError('suite', `two suites are named "${s.name}": ${other} and ${s.file}`, { hint: 'Give one of them another `suite:` name.' });
    names.set(s.name, s.file);
  }
  const selected = only.length === 0
    ? suites
    : suites.map((s) => ({ ...s, cases: s.cases.filter((c) => only.some((o) => `${s.name}/${c.name}`.includes(o))) })).filter((s) => s.cases.length > 0);
  const planned = selected.flatMap((s) => s.cases.map((c) => ({ suite: s.name, case: c.name, file: s.file, line: c.line })));
  if (planned.length === 0) throw new FaultlineError('usage', `no case matches ${only.join(', ')}`, { hint: 'Run `faultline list` to see the case names.' });
  return { suites: selected, planned };
}
