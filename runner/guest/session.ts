import { readFile, writeFile } from 'node:fs/promises';
import { planArchive } from '../../images/initramfs.js';
import { caseKey, type Finding } from '../console/watcher.js';
import { defaultConsolePolicy, toReport } from '../console/verdict.js';
import { FaultlineError } from '../errors.js';
import type { Accel, CaseResult, CaseStatus, RunEvents } from '../events.js';
import { bootGuest, type BootResult } from '../qemu/boot.js';
import { compileSuites, hugepagesNeeded } from '../suite/compile.js';
import type { Suite, SuiteCase } from '../suite/model.js';
import type { LoadedSuites } from '../suites.js';
import type { PlannedCase } from '../tap/case-results.js';
import { rawLog } from '../results/raw-log.js';
import { Timers } from '../timers.js';
import { GuestLedger } from './ledger.js';

/** Guest time limits before the TCG slowdown factor: first console line, then the agent's ready mark. */
const bootFirstOutputMs = 20_000;
const bootReadyMs = 60_000;
/** After a case's own limit (which the helper enforces, then waits 2 s for the killed process),
 * the host waits this long for its end mark before it stops the guest. */
const caseGraceMs = 5_000;
const swapDiskMiB = 64;
/** Huge pages come out of the guest's memory, which comes out of the host's: a case that needs
 * more skips rather than making QEMU fail to allocate the guest for every case. */
export const guestHugepagesMax = 1024;

export interface KernelFiles {
  /** Inside the results directory ('' for its top). */
  dir: string;
  path(name: string): string;
}

export interface GuestSessionOptions {
  kernelId: string;
  kernelImage: string;
  accel: Accel;
  timeoutScale: number;
  append: readonly string[];
  baseImage: string;
  loaded: LoadedSuites;
  files: KernelFiles;
  events: RunEvents;
  signal: AbortSignal | undefined;
  /** What an abort of `signal` means for the cases it leaves without a result. */
  stopped(): Missing;
  /** The first guest started (the kernel is ready); null when no case needed a guest. */
  onFirstStart(argv: string[] | null): void;
}

type Missing = { status: CaseStatus; reason: string };

/** How one guest ended: restart a fresh one for the cases left, or give them `missing`. */
type GuestEnd = { restart: string } | { restart: null; missing: Missing };

// Runs the planned cases in as many guests as it takes: when a guest panics, hangs or QEMU
// dies, the case that was running gets its status and a fresh guest runs the rest. A guest
// that reports nothing ends the session, so it always terminates.
export async function runGuestSession(o: GuestSessionOptions): Promise<void> {
  const base = await readFile(o.baseImage);
  const results = new Map<string, CaseResult>();
  const report = (result: CaseResult): void => {
    results.set(caseKey(result), result);
    o.events.emit({ type: 'case-result', result });
  };
  // Cases that need more huge pages than a guest can hold skip, reported once the kernel is.
  const oversized = o.loaded.planned.filter((p) => hugepagesNeeded(caseOf(o.loaded.suites, p)) > guestHugepagesMax);
  let remaining = o.loaded.planned.filter((p) => !oversized.includes(p));
  const firstStart = (argv: string[] | null): void => {
    o.onFirstStart(argv);
    for (const p of oversized) {
      const reason = `needs ${hugepagesNeeded(caseOf(o.loaded.suites, p))} free 2 MiB huge pages; a faultline guest reserves at most ${guestHugepagesMax} (${(guestHugepagesMax * 2) / 1024} GiB)`;
      report({ kernel: o.kernelId, ...p, status: 'skip', reason, durationMs: 0 });
    }
  };
  if (remaining.length === 0) firstStart(null);
  let restartReason = '';
  for (let guest = 1; remaining.length > 0; guest++) {
    const before = remaining.length;
    const end = await runGuest(o, { guest, base, cases: remaining, restartReason, firstStart }, report);
    remaining = remaining.filter((p) => !results.has(caseKey(p)));
    if (remaining.length === 0) break;
    if (end.restart === null || remaining.length === before) {
      const missing = end.restart === null ? end.missing : { status: 'crash' as const, reason: `no result: ${end.restart}` };
      for (const p of remaining) report({ kernel: o.kernelId, suite: p.suite, case: p.case, ...missing, durationMs: 0 });
      break;
    }
    restartReason = end.restart;
  }
}

type HostStop = { why: 'no-output' | 'not-ready' | 'case'; reason: string };

/** One guest: its number (1 first), the base image bytes, the cases it runs, why it was started. */
interface GuestStart {
  guest: number;
  base: Buffer;
  cases: readonly PlannedCase[];
  restartReason: string;
  firstStart(argv: string[]): void;
}

async function runGuest(o: GuestSessionOptions, { guest, base, cases, restartReason, firstStart }: GuestStart, report: (r: CaseResult) => void): Promise<GuestEnd> {
  const suffix = guest === 1 ? '' : `-${guest}`;
  const suites = selectCases(o.loaded.suites, cases);
  const caseOf = new Map(suites.flatMap((s) => s.cases.map((c) => [caseKey({ suite: s.name, case: c.name }), c] as const)));
  const policyOf = (suite: string) => suites.find((s) => s.name === suite)?.console ?? defaultConsolePolicy;
  const scale = o.timeoutScale;

  // Kept beside the results, so the qemu-command file there replays this guest exactly.
  const initrd = o.files.path(`initrd${suffix}.img`);
  await writeFile(initrd, Buffer.concat([base, planArchive(compileSuites(suites, { timeoutScale: scale }))]));
  const all = suites.flatMap((s) => s.cases);
  const hugepages = Math.max(0, ...all.map(hugepagesNeeded));
  const backstopMs = (bootReadyMs + all.reduce((sum, c) => sum + c.timeoutMs + caseGraceMs, 0)) * scale;

  const stopGuest = new AbortController();
  const stopped: { by: HostStop | null } = { by: null };
  const stop = (by: HostStop): void => {
    if (stopped.by) return;
    stopped.by = by;
    stopGuest.abort();
  };
  const timers = new Timers<'output' | 'ready' | 'case'>();
  const ledger = new GuestLedger(o.kernelId, cases, policyOf, report, {
    firstLine: () => timers.clear('output'),
    agentReady: () => timers.clear('ready'),
    caseBegin: (ref) => {
      const own = caseOf.get(caseKey(ref))?.timeoutMs ?? 0;
      const limit = (own + caseGraceMs) * scale;
      const why = `its ${seconds(own)} limit + ${seconds(caseGraceMs)} grace${scale === 1 ? '' : `, x${scale} for ${o.accel.toUpperCase()}`}`;
      const reason = `no result: the guest stopped responding during this case (no end mark within ${seconds(limit)}: ${why}); QEMU was stopped`;
      timers.set('case', limit, () => stop({ why: 'case', reason }));
    },
    caseEnd: () => timers.clear('case'),
    caseless: (f) => o.events.emit({ type: 'kernel-finding', kernel: o.kernelId, finding: toReport(f, defaultConsolePolicy) }),
  });
  const raw = rawLog(o.files.path(`results${suffix}.raw`));

  timers.set('output', bootFirstOutputMs * scale, () => stop({ why: 'no-output', reason: `no console output within ${seconds(bootFirstOutputMs * scale)}` }));
  timers.set('ready', bootReadyMs * scale, () => stop({ why: 'not-ready', reason: `faultline stopped QEMU: no agent ready mark within ${seconds(bootReadyMs * scale)}` }));
  const boot = await bootGuest({
    kernel: o.kernelImage,
    initrd,
    accel: o.accel,
    hugepages,
    ...(all.some((c) => c.needs.swap) ? { swapMiB: swapDiskMiB } : {}),
    hungTaskSecs: hungTaskSeconds(all, scale),
    append: o.append,
    consoleLog: o.files.path(`console${suffix}.log`),
    timeoutMs: backstopMs,
    signal: o.signal ? AbortSignal.any([o.signal, stopGuest.signal]) : stopGuest.signal,
    onStart: (argv) =>
      guest === 1
        ? firstStart(argv)
        : o.events.emit({ type: 'guest-restart', kernel: o.kernelId, dir: o.files.dir, guest, cases: cases.length, reason: restartReason, qemuCommand: argv }),
    // A timer firing while the last result bytes drain would blame a guest that ended by itself.
    onExit: () => timers.clearAll(),
    onConsoleLine: (line) => ledger.consoleLine(line),
    onResult: (chunk) => {
      raw(chunk);
      ledger.resultChunk(chunk);
    },
  }).finally(() => timers.clearAll());
  ledger.end();

  const consoleName = `console${suffix}.log`;
  if (boot.agentExit === 2) {
    throw new FaultlineError('build', `the helper in the guest rejected the compiled plan (its message is in ${consoleName})`, { where: o.files.path(consoleName) });
  }
  return guestEnd({ o, guest, ledger, boot, stoppedBy: stopped.by, consoleName, backstopMs });
}

// How the guest's end reads for the cases: the unfinished one gets its status here, and the
// answer says whether a fresh guest should run the rest.
function guestEnd(g: { o: GuestSessionOptions; guest: number; ledger: GuestLedger; boot: BootResult; stoppedBy: HostStop | null; consoleName: string; backstopMs: number }): GuestEnd {
  const { o, ledger, boot, stoppedBy, consoleName } = g;
  const unfinished = ledger.unfinished();
  if (o.signal?.aborted) {
    if (unfinished) ledger.reportUnfinished(unfinished.ref, o.stopped());
    return { restart: null, missing: o.stopped() };
  }
  if (!ledger.sawOutput) {
    const what = `the guest printed nothing on its console (${stoppedBy?.why === 'no-output' ? stoppedBy.reason : `QEMU exit ${boot.exitCode ?? boot.signal}`})`;
    if (g.guest === 1) {
      throw new FaultlineError('boot', what, {
        where: boot.argv.join(' '),
        hint: 'Check that the kernel boots with console=ttyS0 on an x86 serial port; `faultline doctor` checks QEMU and acceleration.',
      });
    }
    return { restart: null, missing: { status: 'crash', reason: `no result: ${what} after a restart; see ${consoleName}` } };
  }
  const death = describeDeath(ledger.recentFindings(), boot, stoppedBy, g.backstopMs);
  if (!ledger.agentReady) {
    return { restart: null, missing: { status: 'crash', reason: `no result: the kernel did not start the faultline agent (${death}); see ${consoleName}` } };
  }
  if (unfinished) {
    const own: Missing =
      stoppedBy?.why === 'case'
        ? { status: 'timeout', reason: stoppedBy.reason }
        : boot.timedOut
          ? { status: 'timeout', reason: `no result: ${death}` }
          : { status: 'crash', reason: `no result: the guest died ${unfinished.ended ? 'after this case ended, before its result arrived' : 'during this case'}: ${death}` };
    ledger.reportUnfinished(unfinished.ref, own);
    return { restart: `the guest ${stoppedBy?.why === 'case' ? 'stopped responding' : 'died'} during ${caseKey(unfinished.ref)} (${death})` };
  }
  if (boot.agentExit !== null) {
    return { restart: null, missing: { status: 'crash', reason: `no result: the helper exited (rc=${boot.agentExit}) without reporting this case; see ${consoleName}` } };
  }
  return ledger.reported > 0
    ? { restart: `the guest stopped between cases (${death})` }
    : { restart: null, missing: { status: 'crash', reason: `no result: the guest stopped before this case ran (${death}); see ${consoleName}` } };
}

/** Why the guest ended, in the words its console and QEMU give: reports since the last case ended first. */
function describeDeath(recent: readonly Finding[], boot: BootResult, stoppedBy: HostStop | null, backstopMs: number): string {
  const fatal = recent.find((f) => f.kind === 'panic') ?? recent.find((f) => f.fatal);
  if (fatal) return `${fatal.kind === 'panic' ? 'the kernel panicked' : 'the kernel reported'}: "${fatal.title}"`;
  if (stoppedBy?.why === 'case') return 'no end mark in time';
  if (stoppedBy) return stoppedBy.reason;
  if (boot.timedOut) return `the guest ran past its overall limit (${seconds(backstopMs)})`;
  return `QEMU exited (${boot.exitCode ?? boot.signal ?? 'unknown'})`;
}

/** Soon enough that a task stuck in the shortest case is reported (the detector looks once per
 * period, so within two) before the case's limit; never under 5 s, which no healthy task sleeps. */
function hungTaskSeconds(cases: readonly { timeoutMs: number }[], scale: number): number {
  const shortest = Math.min(...cases.map((c) => c.timeoutMs)) * scale;
  return Math.max(5, Math.floor(shortest / 3000));
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

function caseOf(suites: readonly Suite[], p: PlannedCase): SuiteCase {
  return suites.find((s) => s.name === p.suite)!.cases.find((c) => c.name === p.case)!;
}

/** The suites restricted to the given cases, in plan order. */
function selectCases(suites: readonly Suite[], cases: readonly PlannedCase[]): Suite[] {
  const wanted = new Set(cases.map(caseKey));
  return suites.map((s) => ({ ...s, cases: s.cases.filter((c) => wanted.has(caseKey({ suite: s.name, case: c.name }))) })).filter((s) => s.cases.length > 0);
}
