import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { formatKernelSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../core/errors.js';
import { usableCacheDir } from '../core/paths.js';
import { sweepStaleTempDirs } from '../core/temp-dirs.js';
import { RunEvents, type RunEvent } from '../events.js';
import { liveExpectation } from '../expect/apply.js';
import { loadExpectations } from '../expect/load.js';
import { parseShard } from '../model/shard.js';
import { ResultStore } from '../model/store.js';
import { defaultFailOn } from '../model/summary.js';
import { comparisonClasses, type ComparisonClass } from '../model/types.js';
import { defaultGuestConfig, type AccelMode, type GuestConfig, type MachineMode } from '../qemu/guest-config.js';
import { PerPatchReporter } from '../reporters/per-patch.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { claimResultsDirectory, jsonTarget, outputFileKind } from '../results/location.js';
import { loadReportWriters, onGithub, writeReports } from '../results/final-reports.js';
import { ResultsDirectory } from '../results/results-dir.js';
import { refuseUnsafeOutputs } from '../results/output-paths.js';
import { runMatrix } from '../run.js';
import { loadRunCases } from '../suites.js';
import { kselftestSpec } from '../sources/kselftest/source.js';
import { checkKselftestRunner, parseKselftestRunner } from '../sources/kselftest/runner-choice.js';
import { guestImageName } from '../guest/userland.js';
import type { KselftestRunner } from '../sources/kselftest/vmtests.js';
import { abortOnSignals } from './interrupt.js';
import { guestAppend } from './append-flag.js';
import { parseImageName } from '../../images/guest-image.js';
import { kernelMatrix, type MatrixFlags } from './matrix-flags.js';
import { withBuildImage } from './kernel-flags.js';
import { parseRunTimeout } from './run-timeout.js';
import { stdoutFormat, stdoutReporter } from './stdout-format.js';

export interface RunFlags extends MatrixFlags {
  suite: string[];
  case: string[];
  accel: AccelMode;
  machine?: MachineMode;
  tap?: boolean;
  ktap?: boolean;
  json?: string;
  results?: string;
  timeout?: string;
  tcgSlowdown: string;
  workers?: string;
  cpus?: string;
  append: string[];
  image?: string;
  jobs?: string;
  retries: string;
  shard?: string;
  failOn?: string;
  expect: string[];
  strictExpect?: boolean;
  junit?: string;
  html?: string;
  github?: boolean;
  selftestsFrom?: string;
  kselftestMib?: string;
  kselftestBounces?: string;
  kselftestRunner?: string;
}

// `faultline run`: wires the reporters to the engine's events and turns Ctrl-C into a clean stop.
// Everything that can be checked without booting is checked before the results directory
// exists, so a bad flag or suite leaves nothing behind.
export async function runCommand(flags: RunFlags): Promise<number> {
  const format = stdoutFormat(flags);
  const limits = runLimits(flags);
  const json = flags.json === undefined ? null : jsonTarget(flags.json);
  if (flags.junit !== undefined) outputFileKind('--junit', flags.junit, 'junit.xml');
  if (flags.html !== undefined) outputFileKind('--html', flags.html, 'report.html');
  refuseUnsafeOutputs({ files: { '--json': flags.json, '--junit': flags.junit, '--html': flags.html }, results: flags.results === undefined ? undefined : { path: flags.results, role: 'this run' } });
  const cacheDir = usableCacheDir();
  // What a run killed outright (kill -9) left in the temporary directory goes now.
  await sweepStaleTempDirs();
  const events = new RunEvents();
  const out = format ? process.stderr : process.stdout;
  const terminal = new TerminalReporter(out);
  // The results directory hears of a result before anyone is shown it: a run killed outright
  // the moment a result line is printed still has that result on disk.
  let results: ResultsDirectory | null = null;
  // What happens before the directory exists (loading the suites, a glob's note) is told to it once it does.
  const early: RunEvent[] = [];
  events.on((e) => (results ? results.handle(e) : early.push(e)));
  events.on((e) => terminal.handle(e));
  events.on((e) => {
    // Loaded while the guest runs its cases, the report writers cost the run nothing at its end.
    if (e.type === 'kernel-ready') loadReportWriters({ junit: flags.junit }).catch(() => {});
  });
  const asked = await kernelMatrix(flags, (message) => events.emit({ type: 'note', message }));
  const specs = withBuildImage(asked.kernels.map((k) => k.spec), flags.buildImage);
  const matrix = { ...asked, kernels: asked.kernels.map((k, i) => ({ ...k, spec: specs[i]! })) };
  if (matrix.kernels.some((k) => k.spec.kind === 'host') && flags.append.length > 0) {
    throw new FaultlineError('usage', '--append sets guest kernel parameters, and --kernel host boots no guest', { hint: 'Drop --append, or run on a guest kernel.' });
  }
  if (matrix.kernels.some((k) => k.spec.kind === 'host') && limits.guest.image !== defaultGuestConfig.image) {
    throw new FaultlineError('usage', `--image ${limits.guest.image} is the guests' userland, and --kernel host boots no guest`, { hint: 'Drop --image, or run on a guest kernel.' });
  }
  const entries = flags.expect.flatMap((file) => loadExpectations(file));
  const now = new Date();
  const expect = liveExpectation(entries, now);
  const loaded = await events.stage('suites', undefined, () => loadRunCases(flags.suite, flags.case, { kernels: matrix.kernels.map((k) => k.spec), from: flags.selftestsFrom ?? null, cacheDir }), (l) => ({
    detail: `${l.planned.length} case${l.planned.length === 1 ? '' : 's'} from ${l.suites.length} suite${l.suites.length === 1 ? '' : 's'}${l.kselftest ? ` and ${kselftestSpec}` : ''}`,
  }));
  if (loaded.kselftest) checkKselftestRunner(limits.kselftestRunner, matrix.kernels.map((k) => ({ kernel: formatKernelSpec(k.spec), host: k.spec.kind === 'host', image: guestImageName(limits.guest, k.spec) })));

  results = new ResultsDirectory(claimResultsDirectory(flags.results, now), json);
  for (const e of early.splice(0)) results.handle(e);
  results.saveSuites(loaded.suites);
  const dir = results;
  if (format) {
    const reporter = stdoutReporter(format);
    events.on((e) => reporter.handle(e));
  }
  if (flags.perPatch) {
    const table = new PerPatchReporter((text) => out.write(text), (text) => writeFileSync(dir.path('per-patch.txt'), text));
    events.on((e) => table.handle(e));
  }
  const store = new ResultStore({
    command: process.argv.slice(1),
    kernels: matrix.kernels.map((k) => ({ spec: formatKernelSpec(k.spec), role: k.role, ...(k.title ? { title: k.title } : {}) })),
    cases: loaded.planned,
    shard: limits.shard,
    startedAt: now,
    ...(expect ? { expect } : {}),
  });
  const abort = abortOnSignals();
  try {
    const { exitCode } = await runMatrix(
      {
        loaded,
        kernels: matrix.kernels,
        pairs: matrix.pairs,
        jobs: limits.jobs ?? Math.min(matrix.kernels.length, defaultJobs()),
        shard: limits.shard,
        retries: limits.retries,
        failOn: limits.failOn,
        kselftestSizes: limits.kselftestSizes,
        kselftestRunner: limits.kselftestRunner,
        expectations: entries.length || flags.strictExpect ? { entries, strict: Boolean(flags.strictExpect), now, caseFilter: flags.case } : null,
        ...(limits.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {}),
      },
      limits.guest,
      { store, events, cacheDir, kernelFiles: (kernelDir) => dir.kernelFiles(kernelDir), signal: abort.signal },
      dir.dir,
    );
    return exitCode;
  } finally {
    // --json is written through even when a report cannot be.
    try {
      const notes = await writeReports(store.model, dir.dir, {
        github: onGithub(flags.github),
        annotate: (text) => out.write(text),
        ...(flags.junit ? { junit: flags.junit } : {}),
        ...(flags.html ? { html: flags.html } : {}),
      });
      for (const message of notes) out.write(`note: ${message}\n`);
    } finally {
      await dir.close();
    }
  }
}

/** One guest per core: a guest's single vCPU keeps one core busy under TCG (and under KVM the
 * guests are short), so on 2 cores two kernels run side by side and a third waits. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

export interface Limits {
  /** What every guest of the run is. */
  guest: GuestConfig;
  timeoutMs?: number;
  jobs?: number;
  retries: number;
  shard: ReturnType<typeof parseShard>;
  failOn: ComparisonClass[];
  kselftestSizes: { mib?: number; bounces?: number };
  kselftestRunner: KselftestRunner;
}

/** The numeric and listed flags, checked before anything is built. */
export function runLimits(flags: RunFlags): Limits {
  const tcgSlowdown = Number(flags.tcgSlowdown);
  if (!Number.isFinite(tcgSlowdown) || tcgSlowdown < 1 || tcgSlowdown > 100) {
    throw new FaultlineError('usage', `--tcg-slowdown ${flags.tcgSlowdown} is not a factor between 1 and 100`, { hint: 'e.g. --tcg-slowdown 4; 1 keeps the suites\' own limits.' });
  }
  const count = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new FaultlineError('usage', `${name} ${text} is not a whole number from ${min} to ${max}`, { hint: `e.g. ${name} ${Math.max(min, 2)}` });
    return n;
  };
  const retries = count('--retries', flags.retries, 0, 10);
  const jobs = flags.jobs === undefined ? undefined : count('--jobs', flags.jobs, 1, 64);
  const shard = flags.shard === undefined ? null : parseShard(flags.shard);
  if (flags.shard !== undefined && !shard) throw new FaultlineError('usage', `--shard ${flags.shard} is not I/N with 1 <= I <= N`, { hint: 'e.g. --shard 2/4 for the second of four shards.' });
  const failOn = flags.failOn === undefined ? [...defaultFailOn] : parseFailOn(flags.failOn);
  // An empty pattern is in every name: it would select every case without a word.
  const blank = flags.case.find((pattern) => pattern.trim() === '');
  if (blank !== undefined) throw new FaultlineError('usage', `--case ${JSON.stringify(blank)} names no case: an empty pattern matches every case`, { hint: 'Give part of a suite/case name (e.g. --case read-minor), or drop --case to run every case.' });
  const kselftestSizes = {
    ...(flags.kselftestMib !== undefined ? { mib: count('--kselftest-mib', flags.kselftestMib, 1, 4096) } : {}),
    ...(flags.kselftestBounces !== undefined ? { bounces: count('--kselftest-bounces', flags.kselftestBounces, 1, 10_000) } : {}),
  };
  const image = flags.image ?? defaultGuestConfig.image;
  parseImageName(image);
  const workers = flags.workers === undefined ? null : count('--workers', flags.workers, 1, 64);
  const cpus = flags.cpus === undefined ? defaultGuestConfig.cpus : count('--cpus', flags.cpus, 1, 16);
  const guest: GuestConfig = { ...defaultGuestConfig, accel: flags.accel, tcgSlowdown, append: guestAppend(flags.append), image, workers, cpus, machine: flags.machine ?? defaultGuestConfig.machine };
  const kselftestRunner = parseKselftestRunner(flags.kselftestRunner);
  return { guest, retries, shard, failOn, kselftestSizes, kselftestRunner, ...(jobs !== undefined ? { jobs } : {}), ...(flags.timeout !== undefined ? { timeoutMs: parseRunTimeout(flags.timeout) } : {}) };
}

/** `--fail-on regression,still-failing`, or `none`. */
export function parseFailOn(text: string): ComparisonClass[] {
  const hint = `Use none, or a list of: ${comparisonClasses.join(', ')}.`;
  if (text.trim() === 'none') return [];
  const classes = text.split(',').map((c) => c.trim());
  // Nothing named is not `none`: the run would pass whatever regressed, and nobody asked for that.
  if (classes.every((c) => c === '')) throw new FaultlineError('usage', `--fail-on ${JSON.stringify(text)} names no class of the comparison`, { hint });
  const bad = classes.filter((c) => !(comparisonClasses as readonly string[]).includes(c)).map((c) => c || '""');
  if (bad.length) throw new FaultlineError('usage', `--fail-on ${text}: ${bad.join(', ')} ${bad.length === 1 ? 'is not a class' : 'are not classes'} of the comparison`, { hint });
  return classes as ComparisonClass[];
}
