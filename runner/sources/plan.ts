import { compileSuites } from '../suite/compile.js';
import type { Suite } from '../suite/model.js';
import { caseKey } from '../model/types.js';
import { planTimeoutMaxMs } from '../suite/vocabulary.js';
import type { RunUnit } from './unit.js';

/** A unit that runs a program rather than steps. */
export type ExecUnit = RunUnit & { exec: { cwd: string; argv: string[]; scratch?: string } };

const isExecUnit = (u: RunUnit): u is ExecUnit => 'exec' in u;

// The helper's plan for these units: the YAML cases compiled as ever, then each program run as a
// program case (suites/native/PLAN-FORMAT.md), limits scaled for a slow guest, up to `workers`
// of them at once (units marked alone by themselves).
export function compileUnits(suites: readonly Suite[], units: readonly RunUnit[], timeoutScale: number, workers = 1): string {
  const wanted = new Set(units.filter((u) => !isExecUnit(u)).map((u) => caseKey(u.ref)));
  const yaml = suites.map((s) => ({ ...s, cases: s.cases.filter((c) => wanted.has(caseKey({ suite: s.name, case: c.name }))) })).filter((s) => s.cases.length > 0);
  const lines = [compileSuites(yaml, { timeoutScale, workers }).trimEnd()];
  let suite = '';
  const programs = units.filter(isExecUnit);
  // Side by side, the programs that run alone go first, as a suite's alone cases do (compile.ts).
  for (const unit of workers > 1 ? [...programs.filter((u) => u.alone), ...programs.filter((u) => !u.alone)] : programs) {
    if (unit.ref.suite !== suite) lines.push(`suite ${(suite = unit.ref.suite)}`);
    // The helper takes at most an hour per case; a slowed selftest gets that much, not more.
    lines.push(`case ${unit.ref.case}`, `timeout_ms ${Math.min(planTimeoutMaxMs, Math.round(unit.timeoutMs * timeoutScale))}`, ...(workers > 1 && unit.alone ? ['alone'] : []));
    if (unit.needsHugepages > 0) lines.push(`needs hugepages=${unit.needsHugepages}`);
    lines.push(`exec cwd=${unit.exec.cwd}`, ...unit.exec.argv.map((a) => `arg ${a}`), ...(unit.exec.scratch ? [`scratch ${unit.exec.scratch}`] : []), 'end');
  }
  return `${lines.join('\n')}\n`;
}
