import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKernelSpec } from '../kernels/spec.js';
import { signalExitCodes } from './core/abort.js';
import { FaultlineError } from './core/errors.js';
import { RunEvents } from './events.js';
import { liveExpectation } from './expect/apply.js';
import { replayBooter, replayHost } from './guest/replay.js';
import type { KernelRunOptions, KernelSlot, PreparedKernel, PreparedSelftests } from './kernel-run.js';
import { readRun } from './model/document.js';
import { interruptedRun, missingOf, unfinishedRun, type Missing } from './model/filled.js';
import { ResultStore } from './model/store.js';
import { markUnfinished } from './model/unfinished.js';
import { caseKey, type RunModel } from './model/types.js';
import { runMatrix } from './run.js';
import { defaultGuestConfig } from './qemu/guest-config.js';
import { filesIn } from './results/kernel-files.js';
import type { RunStop } from './stopping.js';
import { loadSuites } from './suites.js';

// `report --reparse`: the results rebuilt from what the run left (each guest's console, result
// channel and end, the suites as they ran), through the same engine that produced them live,
// with saved guests played back instead of booted. What the run could not record again (a
// kernel that never resolved, how the run ended: a signal, or no end at all) is taken from its
// run.json; where a stop found each guest, its own saved end says.
export async function reparseRun(dir: string, saved: RunModel = readRun(dir)): Promise<RunModel> {
  if (saved.command[0] === 'merge') {
    throw new FaultlineError('usage', `${dir} is a merged run (faultline merge): its guests' consoles and result channels are each shard's, under shard-N/, so it cannot be reparsed whole`, {
      hint: `Reparse each shard (faultline report --reparse ${join(dir, 'shard-1')}, and so on), or drop --reparse to render the merged run.json.`,
    });
  }
  const suiteDir = join(dir, 'suites');
  let files: string[];
  try {
    files = readdirSync(suiteDir).filter((f) => f.endsWith('.yaml')).map((f) => join(suiteDir, f));
  } catch {
    throw new FaultlineError('usage', `${dir} has no suites/ directory, which --reparse reads the cases from`, { hint: 'Reparse a run made by this version of faultline, or drop --reparse to render its run.json.' });
  }
  // A run of the kernel's selftests alone saved no YAML case.
  const loaded = await loadSuites(files, [], { allowEmpty: true });
  const wanted = new Set(saved.matrix.cases.map(caseKey));
  const suites = loaded.suites.map((s) => ({ ...s, cases: s.cases.filter((c) => wanted.has(caseKey({ suite: s.name, case: c.name }))) })).filter((s) => s.cases.length);
  const scratch = mkdtempSync(join(tmpdir(), 'faultline-reparse-'));
  try {
    const base = join(scratch, 'base.img');
    writeFileSync(base, '');
    const now = new Date(saved.startedAt);
    const entries = saved.expectations?.entries ?? [];
    const expect = liveExpectation(entries, now);
    const store = new ResultStore({
      command: saved.command,
      kernels: saved.matrix.kernels,
      cases: saved.matrix.cases,
      pairs: saved.matrix.pairs,
      failOn: saved.failOn,
      shard: saved.shard,
      startedAt: now,
      origin: { faultline: saved.faultline, host: saved.host },
      ...(expect ? { expect } : {}),
    });
    const stop = savedStop(saved);
    const prepare = async (_o: KernelRunOptions, slot: KernelSlot): Promise<PreparedKernel> => {
      const record = saved.kernels.find((k) => k.index === slot.index);
      if (!record || record.accel === null) {
        if (record?.failure) throw new FaultlineError('kernel', record.failure);
        // No failure, and never ready: the run stopped (or was killed) before it was.
        if (stop.stopped) stop.abort();
        throw stop.signal.aborted ? stop.signal.reason : new FaultlineError('kernel', 'the kernel did not resolve');
      }
      return {
        record,
        resolved: { id: record.id, label: record.label, spec: record.spec, image: record.accel === 'host' ? null : 'saved', release: record.release, config: null, headersDir: null, cached: true },
        helper: 'saved',
        baseImage: record.accel === 'host' ? null : base,
        // A replay reads saved guests: it boots no userland.
        guestImage: { kind: 'busybox' },
        rootfs: null,
        files: filesIn(scratch, record.dir),
        selftests: savedSelftests(join(dir, record.dir, 'kselftest.json')),
      };
    };
    await runMatrix(
      {
        loaded: { suites, planned: saved.matrix.cases },
        kernels: saved.matrix.kernels.map((k) => ({ spec: specOf(k.spec), role: k.role })),
        pairs: saved.matrix.pairs,
        jobs: 1,
        shard: saved.shard,
        retries: Math.max(0, ...saved.reruns.map((r) => r.attempt)),
        failOn: saved.failOn,
        kselftestSizes: {},
        expectations: saved.expectations ? { entries, strict: saved.expectations.strict, now, ...(saved.expectations.caseFilter ? { caseFilter: saved.expectations.caseFilter } : {}) } : null,
      },
      { ...defaultGuestConfig, accel: 'tcg', tcgSlowdown: saved.kernels.find((k) => k.accel === 'tcg')?.timeoutScale ?? 1 },
      {
        store,
        events: new RunEvents(),
        cacheDir: scratch,
        kernelFiles: (kernelDir) => filesIn(scratch, kernelDir),
        prepare,
        stop,
        boot: (opts) => replayBooter(join(dir, dirOf(saved, opts.consoleLog ?? '', scratch)), { onRunStop: stop.abort })(opts),
        host: (helper, plan, onData, signal) => replayHost(join(dir, dirOf(saved, plan, scratch)), { onRunStop: stop.abort })(helper, plan, onData, signal),
      },
      null,
    ).catch((error: unknown) => {
      if (!(error instanceof FaultlineError)) throw error;
    });
    store.model.finishedAt = saved.finishedAt;
    // A run that never finished has no exit code; what its guests never reported is marked as reading it marks it.
    if (saved.finishedAt === null) {
      store.model.exitCode = null;
      store.model.why = [];
      markUnfinished(store.model);
    }
    return store.model;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** How a saved run's stop is played back: what it left the cases it cut short (the run's own
 * words), the exit code a signal gave it, and an abort the replay raises where a saved guest,
 * helper or kernel shows the stop came. */
function savedStop(saved: RunModel): RunStop & { signal: AbortSignal; abort(): void; stopped: boolean } {
  const signalled = saved.exitCode !== null && Object.values(signalExitCodes).includes(saved.exitCode) ? saved.exitCode : null;
  const left = saved.results.find((r) => r.filled === 'stopped' || r.filled === 'time-limit');
  const missing: Missing = saved.finishedAt === null ? unfinishedRun : ((left && missingOf(left)) ?? interruptedRun);
  const replayed = new AbortController();
  return {
    signal: replayed.signal,
    abort: () => replayed.abort(new Error(missing.detail)),
    stopped: saved.finishedAt === null || signalled !== null || left !== undefined,
    missing: () => missing,
    exitCode: () => signalled,
  };
}

/** The selftests a kernel ran, as the run saved them (their programs are not needed to read it again). */
function savedSelftests(file: string): PreparedSelftests | null {
  if (!existsSync(file)) return null;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Omit<PreparedSelftests, 'dir'>;
  return { ...saved, dir: null };
}

/** The kernel directory a scratch path of the reparse stands for. */
function dirOf(saved: RunModel, scratchPath: string, scratch: string): string {
  const rel = scratchPath.slice(scratch.length + 1);
  const kernel = saved.kernels.find((k) => k.dir && rel.startsWith(`${k.dir}/`));
  return kernel?.dir ?? '';
}

/** A saved spec as a spec again; one that no longer parses (a file since removed) stands for itself. */
function specOf(text: string) {
  try {
    return parseKernelSpec(text);
  } catch {
    return { kind: 'host' as const };
  }
}
