import { readFile } from 'node:fs/promises';
import { planArchive, programsArchive } from '../../images/initramfs.js';
import type { WatchedReport } from '../console/watcher.js';
import { defaultConsolePolicy, toReport } from '../console/verdict.js';
import { compileUnits } from '../sources/plan.js';
import { unitsFor, type RunUnit } from '../sources/unit.js';
import { FaultlineError } from '../core/errors.js';
import { filledResult, type Missing } from '../model/filled.js';
import type { ResultSink } from '../model/sink.js';
import { caseKey, type Accel, type KernelRecord, type KernelReport, type PlannedCase } from '../model/types.js';
import { bootGuest, type Booter, type BootResult, type RecordedEnd } from '../qemu/boot.js';
import type { GuestConfig } from '../qemu/guest-config.js';
import { replayScript } from '../qemu/replay-script.js';
import type { Suite } from '../suite/model.js';
import { rawLog } from '../results/raw-log.js';
import { Timers } from '../timers.js';
import { guestFileName, type GuestFile, type KernelFiles } from '../results/kernel-files.js';
import { GuestLedger, type Unfinished } from './ledger.js';
import { guestHugepages, guestHugepagesMax, guestWorkers } from './workers.js';
import type { GuestRootfs } from './userland.js';

/** Guest time limits before the TCG slowdown factor: first console line, then the agent's ready mark. */
const bootFirstOutputMs = 20_000;
const bootReadyMs = 60_000;
/** After a case's own limit (which the helper enforces, then waits 2 s for the killed process),
 * the host waits this long for its end mark before it stops the guest. */
const caseGraceMs = 5_000;
const swapDiskMiB = 64;

export interface GuestSessionOptions {
  /** The kernel, with the accelerator chosen for it and the factor its time limits are scaled by. */
  kernel: KernelRecord;
  /** The run's guest. */
  guest: GuestConfig;
  kernelImage: string;
  /** The kernel is known to have ACPI: a microvm guest can then take the swap disk (qemu/argv.ts). */
  kernelAcpi?: boolean;
  baseImage: string;
  /** An engine image's filesystem, booted before `baseImage`; it stays in the cache (each guest's
   * QEMU reads it with its own segments from a temporary file) and grows the guest's memory. */
  rootfs?: GuestRootfs | null;
  /** What the guest can run (YAML cases, selftest programs) and the suites the YAML ones are from;
   * the session runs the units of `cases`, in plan order. */
  units: readonly RunUnit[];
  suites: readonly Suite[];
  cases: readonly PlannedCase[];
  /** Test programs the guest carries in GUEST_PROGRAMS_DIR, from this directory. */
  programs: string | null;
  files: KernelFiles;
  sink: ResultSink;
  /** 0 for the run itself; N for the Nth rerun of regression candidates in fresh guests. */
  rerun?: number;
  signal: AbortSignal | undefined;
  /** What an abort of `signal` means for the cases it leaves without a result. */
  stopped(): Missing;
  /** The first guest started (the kernel is ready); null when no case needed a guest. */
  onFirstStart(): void;
  onRestart(restart: { guest: number; cases: number; reason: string }): void;
  /** A kernel report printed while no case ran. */
  onReport(report: KernelReport): void;
  /** The helper marked a case's start on the console. */
  onCaseStart?(ref: PlannedCase): void;
  /** QEMU by default; a replay of saved guests to read a run again. */
  boot?: Booter;
}

/** How one guest ended: restart a fresh one for the cases left, or give them `missing`; and the
 * cases it ran beside others that get no verdict until they run alone, each with why. */
type GuestEnd = ({ restart: string } | { restart: null; missing: Missing }) & { suspects?: Map<string, string> };

type HostStop = NonNullable<RecordedEnd['stoppedBy']>;

// Runs the planned cases in as many guests as it takes: when a guest panics, hangs or QEMU
// dies, the case that was running gets its status and a fresh guest runs the rest. A guest
// that reports nothing ends the session, so it always terminates.
export async function runGuestSession(o: GuestSessionOptions): Promise<void> {
  const base = Buffer.concat([await readFile(o.baseImage), o.programs ? await programsArchive(o.programs) : Buffer.alloc(0)]);
  // Cases that need more huge pages than a guest can hold skip, reported once the kernel is.
  const oversized = unitsFor(o.units, o.cases).filter((u) => u.needsHugepages > guestHugepagesMax);
  const skipped = new Set(oversized.flatMap((u) => u.cases.map(caseKey)));
  let remaining = o.cases.filter((p) => !skipped.has(caseKey(p)));
  const firstStart = (): void => {
    o.onFirstStart();
    for (const unit of oversized) {
      const reason = `needs ${unit.needsHugepages} free 2 MiB huge pages; a faultline guest reserves at most ${guestHugepagesMax} (${(guestHugepagesMax * 2) / 1024} GiB)`;
      for (const p of unit.cases) o.sink.report({ kernel: o.kernel.id, suite: p.suite, case: p.case, status: 'skip', reason, durationMs: 0, skipCause: 'resource' });
    }
  };
  if (remaining.length === 0) firstStart();
  let restartReason = '';
  // Cases to run again alone before any verdict, and why: each runs in a guest of its own
  // queue, one at a time, where a report can only be its own.
  const aloneWhy = new Map<string, string>();
  for (let guest = 1; remaining.length > 0; guest++) {
    const queued = remaining.filter((p) => aloneWhy.has(caseKey(p)));
    const cases = queued.length > 0 ? queued : remaining;
    const end = await runGuest(o, { guest, base, cases, restartReason, firstStart, alone: queued.length > 0 ? aloneWhy : null });
    const fresh = [...(end.suspects ?? [])].filter(([key]) => !aloneWhy.has(key));
    for (const [key, why] of fresh) aloneWhy.set(key, why);
    remaining = remaining.filter((p) => !o.sink.has(p));
    if (remaining.length === 0) break;
    // What this guest left neither with a result nor waiting to run alone. Every guest that goes
    // on leaves fewer: the session always ends.
    const left = cases.filter((p) => !o.sink.has(p) && !fresh.some(([key]) => key === caseKey(p)));
    const stoppedByRun = o.signal?.aborted === true;
    if (left.length === 0 && !stoppedByRun) {
      restartReason = fresh.length > 0 ? `${fresh.length === 1 ? 'a case' : `${fresh.length} cases`} to run again alone: ${fresh[0]![1]}` : 'the cases run again alone are done; the rest run side by side';
      continue;
    }
    if (end.restart === null || left.length === cases.length || stoppedByRun) {
      const missing: Missing = end.restart === null ? end.missing : stoppedByRun ? o.stopped() : { status: 'crash', cause: 'guest-died', detail: end.restart };
      for (const p of remaining) o.sink.report(filledResult(o.kernel.id, p, missing));
      if (missing.cause === 'no-agent') throw noAgent(o, missing, guest);
      break;
    }
    restartReason = end.restart;
  }
}

/** One guest: its number (1 first), the base image bytes, the cases it runs, why it was started. */
interface GuestStart {
  guest: number;
  base: Buffer;
  cases: readonly PlannedCase[];
  restartReason: string;
  firstStart(): void;
  /** Set for a guest that runs suspects again, one at a time: why each runs alone. */
  alone: ReadonlyMap<string, string> | null;
}

async function runGuest(o: GuestSessionOptions, { guest, base, cases, restartReason, firstStart, alone }: GuestStart): Promise<GuestEnd> {
  const file = (kind: GuestFile) => guestFileName(kind, guest, o.rerun ?? 0);
  const units = unitsFor(o.units, cases);
  const unitOf = new Map(units.map((u) => [caseKey(u.ref), u] as const));
  const { timeoutScale } = o.kernel;

  // The plan this guest really ran (limits scaled), and its initramfs, beside the results: the
  // qemu-command script there boots this guest again (an engine image's filesystem, hundreds of
  // megabytes, is not copied there: the script takes it from the cache).
  const workers = alone ? 1 : guestWorkers(units, o.guest.workers);
  const plan = compileUnits(o.suites, units, timeoutScale, workers);
  const initrd = o.files.path(file('initrd'));
  o.files.write(file('plan'), plan);
  o.files.write(file('initrd'), Buffer.concat([base, planArchive(plan)]));
  const hugepages = guestHugepages(units, workers);
  const backstopMs = (bootReadyMs + units.reduce((sum, u) => sum + u.timeoutMs + caseGraceMs, 0)) * timeoutScale;
  const swapMiB = units.some((u) => u.swap) ? swapDiskMiB : 0;

  const stopGuest = new AbortController();
  const stopped: { by: HostStop | null } = { by: null };
  const stop = (by: HostStop): void => {
    if (stopped.by) return;
    stopped.by = by;
    stopGuest.abort();
  };
  const timers = new Timers<'output' | 'ready' | `case ${string}`>();
  const ledger = new GuestLedger(o.kernel.id, units, o.sink, {
    firstLine: () => timers.clear('output'),
    agentReady: () => timers.clear('ready'),
    caseBegin: (ref) => {
      const own = unitOf.get(caseKey(ref))?.timeoutMs ?? 0;
      const limit = (own + caseGraceMs) * timeoutScale;
      const why = `its ${seconds(own)} limit + ${seconds(caseGraceMs)} grace${timeoutScale === 1 ? '' : `, x${timeoutScale} for ${String(o.kernel.accel).toUpperCase()}`}`;
      const reason = (beside: boolean) => `the guest stopped responding ${beside ? `while ${caseKey(ref)} ran beside other cases` : 'during this case'} (no end mark within ${seconds(limit)}: ${why}); QEMU was stopped`;
      timers.set(`case ${caseKey(ref)}`, limit, () => stop({ why: 'case', reason: reason(ledger.unfinishedAll().filter((u) => !u.ended).length > 1) }));
      o.onCaseStart?.(ref);
    },
    caseEnd: (ref) => timers.clear(`case ${caseKey(ref)}`),
    caseless: (f) => o.onReport(toReport(f, defaultConsolePolicy)),
  }, { consoleFile: file('console'), ...(alone ? { aloneWhy: alone } : {}) });
  const raw = rawLog(o.files.path(file('results')));

  timers.set('output', bootFirstOutputMs * timeoutScale, () => stop({ why: 'no-output', reason: `no console output within ${seconds(bootFirstOutputMs * timeoutScale)}` }));
  timers.set('ready', bootReadyMs * timeoutScale, () => stop({ why: 'not-ready', reason: `faultline stopped QEMU: no agent ready mark within ${seconds(bootReadyMs * timeoutScale)}` }));
  const saveEnd = (end: object) => o.files.write(file('guest-end'), `${JSON.stringify(end, null, 2)}\n`);
  const boot = await (o.boot ?? bootGuest)({
    kernel: o.kernelImage,
    initrd,
    ...(o.rootfs ? { initrdPrefix: o.rootfs.path } : {}),
    accel: guestAccel(o.kernel),
    guest: o.rootfs ? rootfsGuest(o.guest, o.rootfs) : o.guest,
    hugepages,
    ...(swapMiB ? { swapMiB } : {}),
    ...(o.kernelAcpi ? { kernelAcpi: true } : {}),
    hungTaskSecs: hungTaskSeconds(units, timeoutScale),
    consoleLog: o.files.path(file('console')),
    timeoutMs: backstopMs,
    signal: o.signal ? AbortSignal.any([o.signal, stopGuest.signal]) : stopGuest.signal,
    onStart: (argv) => {
      o.files.write(file('qemu-command'), replayScript(argv, { dir: o.files.path(''), resultsFile: `results-replay${file('results').slice('results'.length)}`, swapFile: 'swap-replay.img', swapMiB, initrd: { saved: initrd, ...(o.rootfs ? { prefix: o.rootfs.path } : {}) } }));
      if (guest === 1) firstStart();
      else o.onRestart({ guest, cases: cases.length, reason: restartReason });
    },
    // A timer firing while the last result bytes drain would blame a guest that ended by itself.
    onExit: () => timers.clearAll(),
    onConsoleLine: (line, span) => ledger.consoleLine(line, span),
    onResult: (chunk) => {
      raw(chunk);
      ledger.resultChunk(chunk);
    },
  })
    .catch(async (error: unknown) => {
      // QEMU did not start: saved too, so the run reads again the same way.
      if (error instanceof FaultlineError) await saveEnd({ failed: { kind: error.kind, message: error.message, where: error.where, hint: error.hint } });
      throw error;
    })
    .finally(() => timers.clearAll());
  ledger.end();

  const stoppedBy = boot.recorded?.stoppedBy ?? stopped.by;
  // The case whose time is saved for a replay: the one running, or of several the one a fatal report ties to.
  const unfinished = ledger.unfinished() ?? fatalTie(ledger);
  const unfinishedMs = unfinished ? (boot.recorded?.unfinishedMs ?? ledger.runningMs(unfinished.ref)) : null;
  const recorded: RecordedEnd = { stoppedBy, unfinishedMs };
  await saveEnd({ ...boot, recorded, stderr: undefined, argv: undefined });
  if (boot.agentExit === 2) {
    throw new FaultlineError('build', `the helper in the guest rejected the compiled plan (its message is in ${file('console')})`, { where: o.files.path(file('console')) });
  }
  const end = guestEnd({ o, guest, ledger, boot, stoppedBy, unfinishedMs: unfinishedMs ?? 0, consoleName: file('console'), backstopMs });
  const suspects = new Map([...ledger.suspects().map(({ ref, report }) => [caseKey(ref), `a kernel report named no task of the cases running beside it ("${report.title}")`] as const), ...(end.suspects ?? [])]);
  return { ...end, suspects };
}

// How the guest's end reads for the cases: the unfinished one gets its status here, and the
// answer says whether a fresh guest should run the rest.
function guestEnd(g: { o: GuestSessionOptions; guest: number; ledger: GuestLedger; boot: BootResult; stoppedBy: HostStop | null; unfinishedMs: number; consoleName: string; backstopMs: number }): GuestEnd {
  const { o, ledger, boot, stoppedBy, consoleName } = g;
  const unfinished = ledger.unfinished();
  // A saved guest's end says whether the run's stop ended it (aborted, and no limit of the host's
  // stopped it), however the replay is timed; a live one asks the stop now.
  const stoppedByRun = boot.recorded ? boot.aborted && boot.recorded.stoppedBy === null : o.signal?.aborted;
  if (stoppedByRun) {
    if (unfinished) ledger.reportUnfinished(unfinished.ref, o.stopped(), g.unfinishedMs);
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
    return { restart: null, missing: { status: 'crash', cause: 'guest-died', detail: `${what} after a restart; see ${consoleName}` } };
  }
  const death = describeDeath(ledger.recentReports(), boot, stoppedBy, g.backstopMs);
  if (!ledger.agentReady) {
    return { restart: null, missing: { status: 'error', cause: 'no-agent', detail: `the kernel did not start the faultline agent (${death}); see ${consoleName}` } };
  }
  const all = ledger.unfinishedAll();
  if (all.filter((u) => !u.ended).length > 1) return sideBySideEnd(g, all, death);
  if (unfinished) {
    const own: Missing =
      stoppedBy?.why === 'case'
        ? { status: 'timeout', cause: 'unresponsive', detail: stoppedBy.reason }
        : boot.timedOut
          ? { status: 'timeout', cause: 'unresponsive', detail: death }
          : { status: 'crash', cause: 'guest-died', detail: `the guest died ${unfinished.ended ? 'after this case ended, before its result arrived' : 'during this case'}: ${death}` };
    ledger.reportUnfinished(unfinished.ref, own, g.unfinishedMs);
    return { restart: `the guest ${stoppedBy?.why === 'case' ? 'stopped responding' : 'died'} during ${caseKey(unfinished.ref)} (${death})` };
  }
  if (boot.agentExit !== null) {
    return { restart: null, missing: { status: 'crash', cause: 'helper-exited', detail: `the helper exited (rc=${boot.agentExit}) without reporting this case; see ${consoleName}` } };
  }
  return ledger.reported > 0
    ? { restart: `the guest stopped between cases (${death})` }
    : { restart: null, missing: { status: 'crash', cause: 'guest-died', detail: `the guest stopped before this case ran (${death}); see ${consoleName}` } };
}

// A guest that died or hung while several cases ran. Died: the case whose task the fatal report
// names gets the crash (as a case running alone would), and the others no verdict from it: they
// run again beside others. Died with no such tie, or hung: every case running is a suspect and
// runs again alone, where a hang is its own timeout. A case that had ended and whose result had
// not arrived runs again too.
function sideBySideEnd(g: { o: GuestSessionOptions; ledger: GuestLedger; boot: BootResult; stoppedBy: HostStop | null; unfinishedMs: number }, all: readonly Unfinished[], death: string): GuestEnd {
  const { ledger, boot, stoppedBy } = g;
  const running = all.filter((u) => !u.ended).map((u) => u.ref);
  const hung = stoppedBy?.why === 'case' || boot.timedOut;
  const tied = hung ? undefined : fatalTie(ledger)?.ref;
  const names = running.map(caseKey).join(', ');
  if (tied) {
    ledger.reportUnfinished(tied, { status: 'crash', cause: 'guest-died', detail: `the guest died during this case, its task named by the kernel's report: ${death}` }, g.unfinishedMs);
    ledger.holdBack(all.map((u) => u.ref).filter((ref) => caseKey(ref) !== caseKey(tied)));
    return { restart: `the guest died during ${caseKey(tied)} (${death}); ${running.length - 1 === 1 ? 'the case beside it runs' : 'the cases beside it run'} again` };
  }
  ledger.holdBack(all.map((u) => u.ref));
  const why = hung ? (stoppedBy?.why === 'case' ? stoppedBy.reason : `the guest stopped responding while it ran beside others (${death})`) : `the guest died while it ran beside others, and the kernel named no task of theirs (${death})`;
  return { restart: `the guest ${hung ? 'stopped responding' : 'died'} while ${names} ran side by side (${death})`, suspects: new Map(running.map((ref) => [caseKey(ref), why] as const)) };
}

/** Of the cases running when the guest stopped, the one a fatal report of the kernel is tied to. */
function fatalTie(ledger: GuestLedger): Unfinished | null {
  const during = ledger.recentReports().find((f) => f.fatal && f.during !== null)?.during;
  const tied = during ? ledger.unfinishedAll().find((u) => !u.ended && caseKey(u.ref) === caseKey(during)) : undefined;
  return tied ?? null;
}

// A guest whose agent never started ran no case: the guest's machinery failed, not a case, so the
// run ends as an infrastructure failure (exit 3), never as a crash a comparison would call a
// regression of the kernel.
function noAgent(o: GuestSessionOptions, missing: Missing, guest: number): FaultlineError {
  const consoleLog = o.files.path(guestFileName('console', guest, o.rerun ?? 0));
  return new FaultlineError('boot', `${o.kernel.label}: ${missing.detail}`, {
    hint: `faultline's agent is the guest's init, and it never said it was ready; ${consoleLog} shows how far the boot got. The kernel must unpack a gzip initramfs (CONFIG_BLK_DEV_INITRD, CONFIG_RD_GZIP), and --append must leave it alone.`,
  });
}

// A guest grows by what its userland takes in RAM. Its root is ramfs: the kernel's default, a
// tmpfs, may fill only half of the memory left beside the initramfs, and a Debian userland
// did not fit in that ("Initramfs unpacking failed: write error").
function rootfsGuest(guest: GuestConfig, rootfs: GuestRootfs): GuestConfig {
  return { ...guest, baseMemoryMiB: guest.baseMemoryMiB + rootfs.memoryMiB, append: ['rootfstype=ramfs', ...guest.append] };
}

/** Why the guest ended, in the words its console and QEMU give: reports since the last case ended first. */
function describeDeath(recent: readonly WatchedReport[], boot: BootResult, stoppedBy: HostStop | null, backstopMs: number): string {
  const fatal = recent.find((f) => f.kind === 'panic') ?? recent.find((f) => f.fatal);
  if (fatal) return `${fatal.kind === 'panic' ? 'the kernel panicked' : 'the kernel reported'}: "${fatal.title}"`;
  if (stoppedBy?.why === 'case') return 'no end mark in time';
  if (stoppedBy) return stoppedBy.reason;
  if (boot.timedOut) return `the guest ran past its overall limit (${seconds(backstopMs)})`;
  return `QEMU exited (${boot.exitCode ?? boot.signal ?? 'unknown'})`;
}

/** Soon enough that a task stuck in the shortest case is reported (the detector looks once per
 * period, so within two) before the case's limit; never under 5 s, which no healthy task sleeps. */
function hungTaskSeconds(cases: readonly { timeoutMs: number }[], timeoutScale: number): number {
  const shortest = Math.min(...cases.map((c) => c.timeoutMs)) * timeoutScale;
  return Math.max(5, Math.floor(shortest / 3000));
}

/** The accelerator a guest kernel's record names; a host or unresolved record boots no guest. */
function guestAccel(kernel: KernelRecord): Accel {
  if (kernel.accel === 'kvm' || kernel.accel === 'tcg') return kernel.accel;
  throw new Error(`${kernel.label} has no guest accelerator (${String(kernel.accel)})`);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}
