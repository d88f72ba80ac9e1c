import type { WatchedReport } from '../console/watcher.js';
import { withReports, type ConsolePolicy } from '../console/verdict.js';
import { caseKey, type CaseRef, type CaseResult, type PlannedCase } from '../model/types.js';
import type { Suite, SuiteCase } from '../suite/model.js';
import { hugepagesNeeded, runsAlone } from '../suite/compile.js';

/** What the helper reported for a unit, with what it alone knows: a program's output and end. */
export interface UnitResult extends CaseResult {
  /** The TAP point's YAML block (a program case's `output`, `ended`, `dropped`). */
  diag: Record<string, unknown> | null;
  /** The program's lines the console showed (all there is when the guest died under it). */
  console: string[];
}

// What the guest runs and marks as one: a YAML case (one case of the model), or one run of a
// kernel selftest program (several cases: each test x memory type it reports). A unit turns
// the helper's result and the kernel reports printed while it ran into its cases' results.
export interface RunUnit {
  ref: CaseRef;
  cases: PlannedCase[];
  /** Its own limit, before any slowdown factor. */
  timeoutMs: number;
  /** 2 MiB pages the guest should hold for it. */
  hugepages: number;
  /** Free 2 MiB pages without which it skips (the helper checks before it runs). */
  needsHugepages: number;
  swap: boolean;
  /** It runs with no other unit beside it (it touches state the whole guest shares). */
  alone: boolean;
  policy: ConsolePolicy;
  expand(result: UnitResult, reports: readonly WatchedReport[]): CaseResult[];
}

/** Each YAML case is a unit of its own: its result, judged with the reports it caused. */
export function yamlUnits(suites: readonly Suite[]): RunUnit[] {
  return suites.flatMap((s) => s.cases.map((c) => yamlUnit(s, c)));
}

function yamlUnit(suite: Suite, c: SuiteCase): RunUnit {
  return singleCaseUnit({ suite: suite.name, case: c.name, file: suite.file, line: c.line }, { timeoutMs: c.timeoutMs, hugepages: hugepagesNeeded(c), swap: c.needs.swap, alone: runsAlone(c), policy: suite.console });
}

/** A unit that is one case: its result, judged with the reports it caused under `policy`. */
export function singleCaseUnit(planned: PlannedCase, o: { timeoutMs: number; hugepages: number; swap: boolean; alone?: boolean; policy: ConsolePolicy }): RunUnit {
  return {
    ref: { suite: planned.suite, case: planned.case },
    cases: [planned],
    timeoutMs: o.timeoutMs,
    hugepages: o.hugepages,
    needsHugepages: o.hugepages,
    swap: o.swap,
    alone: o.alone ?? false,
    policy: o.policy,
    expand: ({ diag: _diag, console: _console, ...result }, reports) => [withReports(result, reports, o.policy)],
  };
}

/** The units with at least one of these cases. */
export function unitsFor(units: readonly RunUnit[], cases: readonly CaseRef[]): RunUnit[] {
  const wanted = new Set(cases.map(caseKey));
  return units.filter((u) => u.cases.some((c) => wanted.has(caseKey(c))));
}
