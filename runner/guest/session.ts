import { appendFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { planArchive } from '../../images/initramfs.js';
import { ConsoleWatcher, caseKey } from '../console/watcher.js';
import { defaultConsolePolicy, toReport, withFindings } from '../console/verdict.js';
import { FaultlineError } from '../errors.js';
import type { Accel, CaseResult, CaseStatus, RunEvents } from '../events.js';
import { bootGuest } from '../qemu/boot.js';
import { compileSuites, hugepagesNeeded } from '../suite/compile.js';
import type { Suite } from '../suite/model.js';
import type { LoadedSuites } from '../suites.js';
import { CaseResultStream, type PlannedCase } from '../tap/case-results.js';
import { Timers } from '../timers.js';

/** Guest time limits before the TCG slowdown factor: first console line, then the agent's ready mark. */
export const bootFirstOutputMs = 20_000;
export const bootReadyMs = 60_000;
/** After a case's own limit (which the helper enforces), the host waits this long for its end mark. */
export const caseGraceMs = 2_000;
const swapDiskMiB = 64;

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
  /** The first guest started (the kernel is ready). */
  onFirstStart(argv: string[]): void;
}

type Missing = { status: CaseStatus; reason: string };

/** How one guest ended: restart a fresh one for the cases left, or give them `missing`. */
type GuestEnd = { restart: string } | { restart: null; missing: Missing };

// Runs the planned cases in as many guests as it takes: when a guest panics, hangs or QEMU
// dies, the case that was running gets its status and a fresh guest runs the rest. A guest
// that reports nothing ends the session, so it always terminates.
export async function runGuestSession(o: GuestSessionOptions): Promise<CaseResult[]> {
  const results = new Map<string, CaseResult>();
  const report = (result: CaseResult): void => {
    results.set(caseKey(result), result);
    o.events.emit({ type: 'case-result', result });
  };
  let remaining: PlannedCase[] = o.loaded.planned;
  let restartReason = '';
  for (let guest = 1; remaining.length > 0; guest++) {
    const before = results.size;
    const end = await runGuest(o, guest, remaining, restartReason, report);
    remaining = remaining.filter((p) => !results.has(caseKey(p)));
    if (remaining.length === 0) break;
    if (end.restart === null || results.size === before) {
      const missing = end.restart === null ? end.missing : { status: 'crash' as const, reason: `no result: ${end.restart}` };
      for (const p of remaining) report({ kernel: o.kernelId, suite: p.suite, case: p.case, ...missing, durationMs: 0 });
      break;
    }
    restartReason = end.restart;
  }
  return o.loaded.planned.flatMap((p) => results.get(caseKey(p)) ?? []);
}

async function runGuest(o: GuestSessionOptions, guest: number, cases: readonly PlannedCase[], restartReason: string, report: (r: CaseResult) => void): Promise<GuestEnd> {
  const suffix = guest === 1 ? '' : `-${guest}`;
  const suites = selectCases(o.loaded.suites, cases);
  const caseOf = new Map(suites.flatMap((s) => s.cases.map((c) => [caseKey({ suite: s.name, case: c.name }), c] as const)));
  const policyOf = (suite: string) => suites.find((s) => s.name === suite)?.console ?? defaultConsolePolicy;
  const scale = o.timeoutScale;
  const plainSeconds = (ms: number) => `${Math.round(ms / 1000)}s`;
  const seconds = (ms: number) => plainSeconds(ms * scale);

  // Kept beside the results, so the qemu-command file there replays this guest exactly.
  const initrd = o.files.path(`initrd${suffix}.img`);
  await writeFile(initrd, Buffer.concat([await readFile(o.baseImage), planArchive(compileSuites(suites, { timeoutScale: scale }))]));
  const all = suites.flatMap((s) => s.cases);
  const hugepages = Math.max(0, ...all.map(hugepagesNeeded));
  const needsSwap = all.some((c) => c.needs.swap);
  const backstopMs = (bootReadyMs + all.reduce((sum, c) => sum + c.timeoutMs + caseGraceMs, 0)) * scale;

  const stopGuest = new AbortController();
  let hostStop: { why: 'no-output' | 'not-ready' | 'case'; reason: string } | null = null;
  const stop = (why: 'no-output' | 'not-ready' | 'case', reason: string): void => {
    if (hostStop) return;
    hostStop = { why, reason };
    stopGuest.abort();
  };
  const timers = new Timers<'output' | 'ready' | 'case'>();
  const begunAt = new Map<string, number>();
  // Results in arrival (plan) order; one is reported once the console has shown its end mark,
  // so the splats printed before the mark are in its verdict, and never before an earlier one.
  const pending: CaseResult[] = [];
  let reportedHere = 0;
  const drain = (all: boolean): void => {
    while (pending.length > 0 && (all || pending[0]!.status === 'skip' || watcher.ended.has(caseKey(pending[0]!)))) {
      const result = pending.shift()!;
      reportedHere++;
      report(withFindings(result, watcher.findingsFor(result), policyOf(result.suite)));
    }
  };

  const watcher = new ConsoleWatcher({
    firstLine: () => timers.clear('output'),
    agentReady: () => timers.clear('ready'),
    caseBegin: (ref) => {
      begunAt.set(caseKey(ref), performance.now());
      const limit = ((caseOf.get(caseKey(ref))?.timeoutMs ?? 0) + caseGraceMs) * scale;
      const why = `its ${plainSeconds(caseOf.get(caseKey(ref))?.timeoutMs ?? 0)} limit + ${plainSeconds(caseGraceMs)} grace${scale === 1 ? '' : `, x${scale} for ${o.accel.toUpperCase()}`}`;
      timers.set('case', limit, () => stop('case', `no result: the guest stopped responding during this case (no end mark within ${plainSeconds(limit)}: ${why}); QEMU was stopped`));
    },
    caseEnd: () => {
      timers.clear('case');
      drain(false);
    },
    finding: (f) => {
      if (f.during === null) o.events.emit({ type: 'kernel-finding', kernel: o.kernelId, finding: toReport(f, defaultConsolePolicy) });
    },
  });
  // A case's TAP line can overtake its end mark: they travel on two serial ports.
  const stream = new CaseResultStream(o.kernelId, cases, (result) => {
    pending.push(result);
    drain(false);
  });
  const raw = o.files.path(`results${suffix}.raw`);
  writeFileSync(raw, '');

  timers.set('output', bootFirstOutputMs * scale, () => stop('no-output', ''));
  timers.set('ready', bootReadyMs * scale, () => stop('not-ready', ''));
  const signal = o.signal ? AbortSignal.any([o.signal, stopGuest.signal]) : stopGuest.signal;
  const boot = await bootGuest({
    kernel: o.kernelImage,
    initrd,
    accel: o.accel,
    hugepages,
    ...(needsSwap ? { swapMiB: swapDiskMiB } : {}),
    append: o.append,
    consoleLog: o.files.path(`console${suffix}.log`),
    timeoutMs: backstopMs,
    signal,
    onStart: (argv) =>
      guest === 1
        ? o.onFirstStart(argv)
        : o.events.emit({ type: 'guest-restart', kernel: o.kernelId, dir: o.files.dir, guest, cases: cases.length, reason: restartReason, qemuCommand: argv }),
    onConsoleLine: (line) => watcher.line(line),
    onResult: (chunk) => {
      appendFileSync(raw, chunk);
      stream.write(chunk);
    },
  }).finally(() => timers.clearAll());
  watcher.end();
  stream.end();
  // Results whose end mark never came (the guest died right after the TAP line).
  drain(true);

  if (boot.agentExit === 2) {
    throw new FaultlineError('build', `the helper in the guest rejected the compiled plan (its message is in console${suffix}.log)`, { where: o.files.path(`console${suffix}.log`) });
  }
  if (o.signal?.aborted) return { restart: null, missing: o.stopped() };
  const consoleName = `console${suffix}.log`;
  const stoppedBy = hostStop as { why: string; reason: string } | null;
  if (!watcher.sawOutput) {
    throw new FaultlineError('boot', `the guest printed nothing on its console${stoppedBy?.why === 'no-output' ? ` within ${seconds(bootFirstOutputMs)}` : ` (QEMU exit ${boot.exitCode})`}`, {
      where: boot.argv.join(' '),
      hint: 'Check that the kernel boots with console=ttyS0 on an x86 serial port; `faultline doctor` checks QEMU and acceleration.',
    });
  }
  const fatal = watcher.findings.find((f) => f.kind === 'panic') ?? watcher.findings.find((f) => f.fatal);
  const died = fatal ? `${fatal.kind === 'panic' ? 'the kernel panicked' : 'the kernel reported'} "${fatal.title}"` : boot.timedOut ? `the guest ran past its overall limit (${seconds(backstopMs / scale)})` : `QEMU exited (${boot.exitCode ?? boot.signal})`;
  if (!watcher.ready) {
    const late = stoppedBy?.why === 'not-ready' ? ` within ${seconds(bootReadyMs)}` : '';
    return { restart: null, missing: { status: 'crash', reason: `no result: the kernel did not start the faultline agent${late} (${died}); see ${consoleName}` } };
  }
  const running = watcher.current;
  if (running && !stream.results().some((r) => caseKey(r) === caseKey(running))) {
    const key = caseKey(running);
    const started = begunAt.get(key) ?? performance.now();
    const own: Missing =
      stoppedBy?.why === 'case'
        ? { status: 'timeout', reason: stoppedBy.reason }
        : boot.timedOut
          ? { status: 'timeout', reason: `no result: ${died}` }
          : { status: 'crash', reason: `no result: the guest died during this case: ${died}` };
    reportedHere++;
    report(withFindings({ kernel: o.kernelId, ...running, ...own, durationMs: Math.round(performance.now() - started) }, watcher.findingsFor(running), policyOf(running.suite)));
    return { restart: `the guest died or hung during ${key} (${stoppedBy?.why === 'case' ? 'no end mark in time' : died})` };
  }
  if (boot.agentExit !== null) {
    return { restart: null, missing: { status: 'crash', reason: `no result: the helper exited (rc=${boot.agentExit}) without reporting this case; see ${consoleName}` } };
  }
  return reportedHere > 0
    ? { restart: `the guest stopped between cases (${died})` }
    : { restart: null, missing: { status: 'crash', reason: `no result: the guest stopped before this case ran (${died}); see ${consoleName}` } };
}

/** The suites restricted to the given cases, in plan order. */
function selectCases(suites: readonly Suite[], cases: readonly PlannedCase[]): Suite[] {
  const wanted = new Set(cases.map(caseKey));
  return suites.map((s) => ({ ...s, cases: s.cases.filter((c) => wanted.has(caseKey({ suite: s.name, case: c.name }))) })).filter((s) => s.cases.length > 0);
}
