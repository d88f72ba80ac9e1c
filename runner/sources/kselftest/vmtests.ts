import type { WatchedReport } from '../../console/watcher.js';
import { withReports } from '../../console/verdict.js';
import type { CaseResult, PlannedCase } from '../../model/types.js';
import type { ExecUnit } from '../plan.js';
import type { UnitResult } from '../unit.js';
import { parseStress, parseUnitTests, parseUserfaultfd, type Ended } from './parse.js';
import { parseVmtestsOutput, type ScriptRun } from './parse-vmtests.js';
import { endedOf, filledBy, kselftestCases, kselftestRunOf, kselftestSuite, outputOf, plain, policy, programUnit, unitCase, unitKey, vmModeCase, vmModes, type KselftestInfo } from './source.js';

/** `--kselftest-runner`: faultline's own runs of the static programs, one by one, or the tree's run_vmtests.sh. */
export type KselftestRunner = 'programs' | 'vmtests';
export const kselftestRunners: readonly KselftestRunner[] = ['programs', 'vmtests'];

/** The helper's case that runs the script; its results are the selftest cases. */
export const vmtestsUnitName = 'run_vmtests-userfaultfd';

// What the guest runs: the script as the tree ships it. From 6.2 it takes `-t userfaultfd`; 6.1's
// has no categories, so it runs whole, with only the userfaultfd program beside it: its other runs
// end at once ("No such file or directory") and are not cases.
export function vmtestsArgv(info: KselftestInfo): string[] {
  return info.generation === 'vm-userfaultfd' ? ['./run_vmtests.sh'] : ['./run_vmtests.sh', '-t', 'userfaultfd'];
}

/** What runs a case, for people: "./run_vmtests.sh -t userfaultfd, its ./uffd-stress anon, 20 MiB, 16 bounces". */
export function vmtestsRunOf(info: KselftestInfo, name: string): string {
  return `${vmtestsArgv(info).join(' ')}, its ${kselftestRunOf(info, name)}`;
}

// The huge pages the script makes sure of before it runs anything (6.1 exits if it cannot have
// them): 6.1 twice "half_ufd_size_MB" (nr_cpus * 2 MiB rounded up to 128 MiB), 6.2 on 256 MiB or
// 2 * nr_cpus pages. The guest holds them from boot, so the script finds them free.
export function vmtestsHugepages(info: KselftestInfo, cpus: number): number {
  return info.generation === 'vm-userfaultfd' ? Math.ceil((cpus * 2) / 128) * 128 : Math.max(128, 2 * cpus);
}

/** The script's program runs, each with its own limit (the directory's `settings`), and a minute for the rest. */
function scriptTimeoutMs(info: KselftestInfo): number {
  const runs = info.generation === 'vm-userfaultfd' ? info.runs.flatMap(vmModes).length : info.runs.length + 1;
  return runs * info.timeoutMs + 60_000;
}

// The one helper case that runs run_vmtests.sh in `cwd` and gives every selftest case of `cases`,
// read from the script's output the way the programs' own runs are read.
export function vmtestsUnits(info: KselftestInfo, cases: readonly PlannedCase[], place: { cwd: string; cpus: number }): ExecUnit[] {
  const wanted = new Set(cases.filter((c) => c.suite === kselftestSuite).map((c) => c.case));
  const covered = kselftestCases(info).filter((c) => wanted.has(c.case));
  if (covered.length === 0) return [];
  const ref = { suite: kselftestSuite, case: vmtestsUnitName };
  const pages = vmtestsHugepages(info, place.cpus);
  return [
    programUnit(ref, covered, { cwd: place.cwd, argv: vmtestsArgv(info) }, scriptTimeoutMs(info), { reserve: pages, needs: 0 }, (result, reports) => {
      const script = parseVmtestsOutput(outputOf(result));
      const unit = endedOf(result);
      return scriptResults(info, script.runs, script.own, unit, result, reports).filter((r) => wanted.has(r.case));
      // The script sets the huge-page pool (and 6.1's writes other sysctls) for the whole guest.
    }, true),
  ];
}

/** Each case from the run of the script that gave it; a case it never ran is not a pass. */
function scriptResults(info: KselftestInfo, runs: readonly ScriptRun[], own: readonly string[], unit: Ended, result: UnitResult, reports: readonly WatchedReport[]): CaseResult[] {
  const base = plain(result);
  const out = new Map<string, CaseResult>();
  // A report while a run that is no case ran (6.1's other programs, the script's own lines) goes to every case: never dropped.
  const isCase = (run: ScriptRun | undefined) => ['./userfaultfd', './uffd-stress', './uffd-unit-tests'].includes(run?.argv[0] ?? '');
  const reportsOf = (index: number) =>
    reports.filter((r) => {
      const during = runOfReport(r, result.console);
      return during === index || during === null || !isCase(runs[during]);
    });
  const endedFor = (run: ScriptRun): Ended => run.ended ?? (unit.kind === 'exit' ? { kind: 'lost', reason: `run_vmtests.sh ended (exit ${unit.code}) while it ran` } : unit);
  runs.forEach((run, index) => {
    const ended = endedFor(run);
    const [program, ...args] = run.argv;
    if (program === './userfaultfd' && info.generation === 'vm-userfaultfd') {
      const name = vmModeCase(args[0] ?? '');
      const parsed = parseUserfaultfd(run.output, ended, args[0] ?? '');
      out.set(name, withReports({ ...base, case: name, status: parsed.status, reason: parsed.reason, subtests: parsed.subtests, ...filledBy(result, parsed) }, reportsOf(index), policy));
    } else if (program === './uffd-stress' && info.generation === 'mm-uffd') {
      const name = `stress-${args[0] ?? ''}`;
      const parsed = parseStress(run.output, ended);
      out.set(name, withReports({ ...base, case: name, status: parsed.status, reason: parsed.reason, ...filledBy(result, parsed) }, reportsOf(index), policy));
    } else if (program === './uffd-unit-tests' && info.generation === 'mm-uffd') {
      const all = info.unitTests.flatMap((t) => t.mems.map((m) => ({ key: unitKey(t.name, m), name: unitCase(t.name, m) })));
      const parsed = parseUnitTests(run.output, ended, all.map((c) => c.key));
      for (const c of all) {
        const { stated: _stated, ...said } = parsed.get(c.key)!;
        const mine = reportsOf(index).filter((r) => unitTestOfReport(r, result.console) === null || unitTestOfReport(r, result.console) === c.key);
        out.set(c.name, withReports({ ...base, case: c.name, ...said, ...filledBy(result, parsed.get(c.key)!) }, mine, policy));
      }
    }
  });
  const why = unit.kind === 'exit' ? `run_vmtests.sh ended (exit ${unit.code}) without running it${own.length ? `: "${own.at(-1)}"` : ''}` : `run_vmtests.sh stopped before it (${unit.kind === 'signal' ? `killed by ${unit.name}` : unit.reason})`;
  for (const c of kselftestCases(info)) {
    if (out.has(c.case)) continue;
    out.set(c.case, { ...base, case: c.case, status: 'error', reason: `not reached: ${why}`, ...(result.filled ? { filled: result.filled } : {}) });
  }
  return [...out.values()];
}

/** The console's program lines before a report began, without the script's TAP prefix. */
function linesBefore(report: WatchedReport, console: readonly string[]): string[] {
  return console.slice(0, report.outputBefore).map((l) => l.replace(/^# /, ''));
}

/** Which of the script's runs was in progress when a report began (null: before the first). */
function runOfReport(report: WatchedReport, console: readonly string[]): number | null {
  const titles = linesBefore(report, console).filter((l) => /^running /.test(l)).length;
  return titles === 0 ? null : titles - 1;
}

/** The uffd-unit-tests case in progress when a report began, by its last "Testing ..." line after the last run title. */
function unitTestOfReport(report: WatchedReport, console: readonly string[]): string | null {
  const before = linesBefore(report, console);
  const titles = before.flatMap((l, i) => (/^running /.test(l) ? [i] : []));
  const since = before.slice((titles.at(-1) ?? -1) + 1);
  return since.map((l) => /^Testing (.+?)\.\.\./.exec(l)?.[1]).filter((k) => k !== undefined).at(-1) ?? null;
}
