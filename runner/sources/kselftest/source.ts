import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selftestTargets, type SelftestGeneration } from '../../../kernels/selftests/programs.js';
import { unitTestTable, type UnitTest } from '../../../kernels/selftests/unit-table.js';
import type { WatchedReport } from '../../console/watcher.js';
import { withReports, type ConsolePolicy } from '../../console/verdict.js';
import type { CaseResult, CaseStatus, FillCause, PlannedCase } from '../../model/types.js';
import { isFailingStatus } from '../../model/status.js';
import type { ExecUnit } from '../plan.js';
import type { RunUnit, UnitResult } from '../unit.js';
import type { KselftestSizes } from './sizes.js';
import { parseStress, parseUnitTests, parseUserfaultfd, type Ended } from './parse.js';

/** `--suite kselftest:userfaultfd`: the tree's own userfaultfd selftests, as one more suite. */
export const kselftestSpec = 'kselftest:userfaultfd';
export const kselftestSuite = 'kselftest-userfaultfd';

/** What a kernel's selftests are, read from its tree before anything is built. */
export interface KselftestInfo {
  generation: SelftestGeneration;
  /** run_vmtests.sh's runs of the programs: type (6.1: with any fixed mods, "shmem:collapse"), its
   * size in MiB (or "half": of the huge pages), bounces, and up to 6.3 the mods the script adds to
   * the type (its uffd_mods loop, or none for a line outside it; plain and :dev when absent). */
  runs: { type: string; size: number | 'half'; bounces: number; mods?: string[] }[];
  unitTests: UnitTest[];
  /** The programs' time limit, from the test directory's `settings`. */
  timeoutMs: number;
  /** For people: where they come from. */
  what: string;
}

export function kselftestInfo(root: string, generation: SelftestGeneration, what: string): KselftestInfo {
  const dir = join(root, selftestTargets[generation].dir);
  const script = readFileSync(join(dir, 'run_vmtests.sh'), 'utf8');
  const program = generation === 'vm-userfaultfd' ? '\\./userfaultfd' : '\\$\\{uffd_stress_bin\\}';
  const loop = /^\s*uffd_mods=\(([^)]*)\)/m.exec(script)?.[1];
  const loopMods = loop ? [...loop.matchAll(/"([^"]*)"/g)].map((m) => m[1]!) : vmMods;
  const runs = [...script.matchAll(new RegExp(`run_test ${program} ([a-z_-]+(?::[a-z_]+)*)(\\$\\{mod\\})? ("\\$half_ufd_size_MB"|\\d+) (\\d+)`, 'g'))].map((m) => ({
    type: m[1]!,
    size: m[3]!.includes('half') ? ('half' as const) : Number(m[3]),
    bounces: Number(m[4]),
    ...(generation === 'vm-userfaultfd' ? { mods: m[2] ? loopMods : [''] } : {}),
  }));
  // kselftest's own default is 45 s, and 0 turns its limit off; a guest always needs one.
  const timeout = Number(/^timeout=(\d+)/m.exec(safeRead(join(dir, 'settings')))?.[1] ?? 45) || 45;
  const unitTests = generation === 'mm-uffd' ? unitTestTable(readFileSync(join(dir, 'uffd-unit-tests.c'), 'utf8')) : [];
  return { generation, runs, unitTests, timeoutMs: timeout * 1000, what };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** 6.1's modes run plain and through /dev/userfaultfd, as run_vmtests.sh does. */
export const vmMods = ['', ':dev'];
/** The modes (./userfaultfd's first argument) a 6.1 run line gives: "shmem" and "shmem:dev". */
export const vmModes = (r: KselftestInfo['runs'][number]): string[] => (r.mods ?? vmMods).map((mod) => `${r.type}${mod}`);
/** A 6.1 mode's case: userfaultfd-shmem-dev for shmem:dev, userfaultfd-shmem-collapse for shmem:collapse. */
export const vmModeCase = (mode: string): string => `userfaultfd-${mode.split(':').join('-')}`;
/** A mode's memory type, without its mods. */
const memOf = (mode: string): string => mode.split(':')[0]!;
export const unitCase = (test: string, mem: string): string => {
  const api = /^UFFDIO_API \(with (syscall|\/dev\/userfaultfd)\)$/.exec(test);
  return api ? `unit-api-${api[1] === 'syscall' ? 'syscall' : 'dev'}` : `unit-${test}-${mem}`;
};
export const unitKey = (test: string, mem: string): string => (mem ? `${test} on ${mem}` : test);

/** What a case runs, for people: "./userfaultfd shmem[:dev] MiB bounces", "uffd-unit-tests: minor on shmem". */
export function kselftestRunOf(info: KselftestInfo, name: string): string {
  const unit = info.unitTests.flatMap((t) => t.mems.map((m) => ({ name: unitCase(t.name, m), key: unitKey(t.name, m) }))).find((u) => u.name === name);
  if (unit) return `uffd-unit-tests: ${unit.key}`;
  const size = (r: KselftestInfo['runs'][number]) => (r.size === 'half' ? 'half the huge pages in MiB' : `${r.size} MiB`);
  if (info.generation === 'vm-userfaultfd') {
    const mode = info.runs.flatMap((r) => vmModes(r).map((m) => ({ r, m }))).find((x) => vmModeCase(x.m) === name);
    return mode ? `./userfaultfd ${mode.m}, ${size(mode.r)}, ${mode.r.bounces} bounces` : name;
  }
  const run = info.runs.find((r) => name === `stress-${r.type}`);
  return run ? `./uffd-stress ${run.type}, ${size(run)}, ${run.bounces} bounces` : name;
}

/** Every case a kernel's selftests give, in the order they run. */
export function kselftestCases(info: KselftestInfo): PlannedCase[] {
  const name = (c: string): PlannedCase => ({ suite: kselftestSuite, case: c });
  if (info.generation === 'vm-userfaultfd') return info.runs.flatMap((r) => vmModes(r).map((mode) => name(vmModeCase(mode))));
  return [...info.unitTests.flatMap((t) => t.mems.map((m) => name(unitCase(t.name, m)))), ...info.runs.map((r) => name(`stress-${r.type}`))];
}

/** A stress run's size in MiB: the run's own (under TCG, or --kselftest-mib; a hugetlb run twice
 * that, at least 8), else run_vmtests.sh's, its "half" taken as the huge pages a guest holds. */
export function stressMib(r: KselftestInfo['runs'][number], sizes: KselftestSizes): number {
  if (sizes.mib !== null) return r.type.startsWith('hugetlb') ? Math.max(sizes.mib, 4) * 2 : sizes.mib;
  return r.size === 'half' ? sizes.hugepages : r.size;
}

/** Where the programs run: their directory, and a hugetlbfs mount for hugetlb_shared's file (none: those skip). */
export interface ProgramPlace {
  cwd: string;
  hugetlbfs: string | null;
}

/** The program runs that cover `cases` on a kernel with these selftests, as units. */
export function kselftestUnits(info: KselftestInfo, cases: readonly PlannedCase[], sizes: KselftestSizes, place: ProgramPlace): { units: ExecUnit[]; skips: { ref: PlannedCase; reason: string }[] } {
  const cwd = place.cwd;
  const skips: { ref: PlannedCase; reason: string }[] = [];
  const wanted = new Set(cases.filter((c) => c.suite === kselftestSuite).map((c) => c.case));
  const ref = (name: string) => ({ suite: kselftestSuite, case: name });
  const size = (r: KselftestInfo['runs'][number]) => stressMib(r, sizes);
  const units: ExecUnit[] = [];
  if (info.generation === 'vm-userfaultfd') {
    for (const r of info.runs) {
      for (const mode of vmModes(r)) {
        const name = vmModeCase(mode);
        if (!wanted.has(name)) continue;
        const mib = size(r);
        const mem = memOf(mode);
        if (mem === 'hugetlb_shared' && !place.hugetlbfs) {
          skips.push({ ref: ref(name), reason: 'hugetlb_shared maps a file on hugetlbfs, and none is mounted here (mount -t hugetlbfs none /dev/hugepages)' });
          continue;
        }
        const file = mem === 'hugetlb_shared' ? `${place.hugetlbfs!.replace(/\/$/, '')}/faultline-uffd-test` : undefined;
        const argv = ['./userfaultfd', mode, String(mib), String(sizes.bounces ?? r.bounces), ...(file ? [file] : [])];
        const pages = mem.startsWith('hugetlb') ? mib : 0;
        units.push(programUnit(ref(name), [ref(name)], { cwd, argv, ...(file ? { scratch: file } : {}) }, info.timeoutMs, { reserve: pages ? Math.max(sizes.hugepages, pages) : 0, needs: pages }, (result, reports) => {
          const parsed = parseUserfaultfd(outputOf(result), endedOf(result), argv[1]!);
          return [withReports({ ...plain(result), status: parsed.status, reason: parsed.reason, subtests: parsed.subtests, ...filledBy(result, parsed) }, reports, policy)];
        }, sharesHugepages(r.type)));
      }
    }
    return { units, skips };
  }
  const unitCases = info.unitTests.flatMap((t) => t.mems.map((m) => ({ test: t.name, key: unitKey(t.name, m), name: unitCase(t.name, m) })));
  const selected = unitCases.filter((c) => wanted.has(c.name));
  if (selected.length > 0) {
    // uffd-unit-tests filters by a substring of the test's name (-f): the shortest test asked for,
    // when every other one asked for contains it; otherwise they all run. Results nobody asked
    // for are dropped by the store.
    const tests = [...new Set(selected.map((c) => c.test))];
    const shortest = [...tests].sort((a, b) => a.length - b.length)[0]!;
    const filter = tests.every((t) => t.includes(shortest) && !t.startsWith('UFFDIO_API')) ? ['-f', shortest] : [];
    const runs = filter.length ? unitCases.filter((c) => c.test.includes(shortest) && !c.test.startsWith('UFFDIO_API')) : unitCases;
    const name = filter.length ? `unit-tests-${shortest.replace(/[^A-Za-z0-9._-]/g, '-')}` : 'unit-tests';
    // It skips a hugetlb case itself when there are too few huge pages, so they are held, not needed.
    units.push(programUnit(ref(name), runs.map((c) => ref(c.name)), { cwd, argv: ['./uffd-unit-tests', ...filter] }, info.timeoutMs, { reserve: sizes.hugepages, needs: 0 }, (result, reports) => {
      const parsed = parseUnitTests(outputOf(result), endedOf(result), runs.map((c) => c.key));
      return runs.map((c) => {
        const outcome = parsed.get(c.key)!;
        const mine = reports.filter((f) => belongsTo(f, result.console, c.key, runs.map((r) => r.key)));
        const { stated: _stated, ...said } = outcome;
        return withReports({ ...plain(result), case: c.name, ...said, ...filledBy(result, outcome) }, mine, policy);
      });
    }, true));
  }
  for (const r of info.runs) {
    const name = `stress-${r.type}`;
    if (!wanted.has(name)) continue;
    const mib = size(r);
    const pages = r.type.startsWith('hugetlb') ? mib : 0;
    units.push(programUnit(ref(name), [ref(name)], { cwd, argv: ['./uffd-stress', r.type, String(mib), String(sizes.bounces ?? r.bounces)] }, info.timeoutMs, { reserve: pages ? Math.max(sizes.hugepages, pages) : 0, needs: pages }, (result, reports) => {
      const parsed = parseStress(outputOf(result), endedOf(result));
      return [withReports({ ...plain(result), status: parsed.status, reason: parsed.reason, ...filledBy(result, parsed) }, reports, policy)];
    }, sharesHugepages(r.type)));
  }
  return { units, skips };
}

// Which programs run alone. A hugetlb run of ./userfaultfd or ./uffd-stress sizes itself from the
// huge-page pool and holds what it maps for its whole run (a hugetlb_shared file even after), so
// another case's huge pages (or its count of free ones) would change under it. uffd-unit-tests
// runs its hugetlb tests in the same process as the rest, on whatever the pool holds, and is
// marked alone for the same reason. The anon and shmem runs touch only their own memory and
// descriptors, and run beside other cases.
const sharesHugepages = (type: string): boolean => type.startsWith('hugetlb');

/** Selftests fail their cases on any kernel report, as the YAML suites do by default. */
export const policy: ConsolePolicy = { splats: 'fail', allow: [] };

// A hugetlb run of S MiB maps a source and a destination area of S/2 MiB each: S huge pages.
// A run the helper skipped (too few huge pages) skips every case it stands for.
// `alone`: the program shares the guest's global state (below, per program), so no other case
// runs beside it.
export function programUnit(ref: PlannedCase, cases: PlannedCase[], exec: ExecUnit['exec'], timeoutMs: number, pages: { reserve: number; needs: number }, expand: RunUnit['expand'], alone = false): ExecUnit {
  const expandRun: RunUnit['expand'] = (result, reports) =>
    result.status === 'skip' ? cases.map((c) => ({ ...plain(result), suite: c.suite, case: c.case })) : expand(result, reports);
  return { ref, cases, timeoutMs, hugepages: pages.reserve, needsHugepages: pages.needs, swap: false, alone, policy, expand: expandRun, exec };
}

/** The unit's own result without what only the helper and console carry, or how it was filled. */
export function plain(result: UnitResult): CaseResult {
  const { diag: _diag, console: _console, filled: _filled, ...rest } = result;
  return rest;
}

// A program run the runner had to fill (the guest died or hung under it, the run stopped) still
// printed what it printed: what the program said of a test is its own report; a failing status
// read from how it ended is the runner's.
export function filledBy(result: UnitResult, outcome: { status: CaseStatus; stated?: true }): { filled?: FillCause } {
  return result.filled && !outcome.stated && isFailingStatus(outcome.status) ? { filled: result.filled } : {};
}

export function outputOf(result: UnitResult): string {
  const encoded = result.diag?.output;
  if (typeof encoded === 'string') return Buffer.from(encoded, 'base64').toString('utf8');
  return result.console.join('\n');
}

// The helper's word on how the program ended, or without it (the guest died or hung, the run
// was stopped) what the session made of the unit.
export function endedOf(result: UnitResult): Ended {
  const ended = typeof result.diag?.ended === 'string' ? result.diag.ended : null;
  const reason = result.reason ?? result.status;
  if (ended === null) return result.status === 'timeout' ? { kind: 'timeout', reason } : result.status === 'error' ? { kind: 'stopped', reason } : { kind: 'lost', reason };
  const exit = /^exit (\d+)$/.exec(ended);
  if (exit) return { kind: 'exit', code: Number(exit[1]) };
  const signal = /^signal (\S+)$/.exec(ended);
  if (signal) return { kind: 'signal', name: `SIG${signal[1]}` };
  return ended === 'timeout' ? { kind: 'timeout', reason } : { kind: 'stopped', reason };
}

/** A kernel report belongs to the test x memory type whose "Testing ..." line the console showed
 * last before the report began; with none, to every case of the run (a report is never dropped). */
export function belongsTo(report: WatchedReport, console: readonly string[], key: string, keys: readonly string[]): boolean {
  const before = console.slice(0, report.outputBefore);
  const started = before.map((line) => /^Testing (.+?)\.\.\./.exec(line)?.[1]).filter((name) => name !== undefined).at(-1);
  return started && keys.includes(started) ? started === key : true;
}

