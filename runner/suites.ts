import { realpathSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FaultlineError } from './core/errors.js';
import { defaultSuitesDir } from './core/paths.js';
import { loadSuite } from './suite/load.js';
import type { Suite } from './suite/model.js';
import type { PlannedCase } from './model/types.js';
import type { KernelSpec } from '../kernels/spec.js';
import { kselftestPlanned, planKselftests, type KselftestPlan } from './sources/kselftest/plan.js';
import { kselftestSpec } from './sources/kselftest/source.js';

export interface LoadedSuites {
  suites: Suite[];
  planned: PlannedCase[];
  /** With `--suite kselftest:userfaultfd`: each kernel's selftests, by the kernel's index. */
  kselftest?: KselftestPlan[];
}

/** What `--suite` names: YAML files, and the kernel's selftests as a source of cases. */
export function caseSources(named: readonly string[]): { files: string[]; kselftest: boolean } {
  const sources = named.filter((n) => /^[a-z]+:/.test(n) && !/\.ya?ml$/.test(n));
  for (const s of sources) {
    if (s !== kselftestSpec) throw new FaultlineError('usage', `--suite ${s}: no such case source`, { hint: `The case sources are YAML suite files and ${kselftestSpec}.` });
  }
  return { files: named.filter((n) => !sources.includes(n)), kselftest: sources.length > 0 };
}

/** Every shipped suite: what a run uses when no suite is named at all. */
async function shippedSuiteFiles(): Promise<string[]> {
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

/** The cases of a run: the YAML suites' and, when named, each kernel's selftests. */
export async function loadRunCases(named: readonly string[], only: readonly string[], selftests: { kernels: readonly KernelSpec[]; from: string | null; cacheDir: string }): Promise<LoadedSuites> {
  const { files, kselftest } = named.length > 0 ? caseSources(named) : { files: await shippedSuiteFiles(), kselftest: false };
  if (!kselftest) {
    if (selftests.from !== null) throw new FaultlineError('usage', '--selftests-from names the selftests of --suite kselftest:userfaultfd, which this run does not have', { hint: 'Add --suite kselftest:userfaultfd, or drop --selftests-from.' });
    return loadSuites(files, only);
  }
  const yaml = files.length ? await loadSuites(files, only, { allowEmpty: true }) : { suites: [], planned: [] };
  const plans = await planKselftests(selftests.kernels, { from: selftests.from, cacheDir: selftests.cacheDir, only });
  const planned = [...yaml.planned, ...kselftestPlanned(plans)];
  if (planned.length === 0) throw noMatch(only);
  return { suites: yaml.suites, planned, kselftest: plans };
}

const noMatch = (only: readonly string[]) => new FaultlineError('usage', `no case matches ${only.join(', ')}`, { hint: 'Run `faultline list` to see the case names.' });

/** Loads, validates and compiles; `only` filters cases by `suite/case` or case name substrings. */
export async function loadSuites(files: readonly string[], only: readonly string[] = [], o: { allowEmpty?: boolean } = {}): Promise<LoadedSuites> {
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
  if (planned.length === 0 && !o.allowEmpty) throw noMatch(only);
  return { suites: selected, planned };
}
