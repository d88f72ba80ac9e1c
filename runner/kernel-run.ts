import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { buildBaseImage } from '../images/initramfs.js';
import { resolveKernel, type ResolvedKernel } from '../kernels/resolve.js';
import { formatKernelSpec, type KernelSpec } from '../kernels/spec.js';
import { FaultlineError } from './core/errors.js';
import type { RunEvents } from './events.js';
import { runGuestSession } from './guest/session.js';
import { guestFileName, type KernelFiles } from './guest/files.js';
import { buildHelper } from './helper/build.js';
import { runOnHost, type HostRunner } from './host.js';
import type { Missing } from './model/store.js';
import type { ResultSink } from './model/sink.js';
import type { ResultStore } from './model/store.js';
import type { Accel, KernelRecord, KernelRole, PlannedCase } from './model/types.js';
import type { Mutex } from './parallel.js';
import { chooseAccel, type AccelMode } from './qemu/accel.js';
import type { Booter } from './qemu/boot.js';
import { rawLog } from './results/raw-log.js';
import { checkScaledLimits, compileSuites } from './suite/compile.js';
import type { LoadedSuites } from './suites.js';
import { CaseResultStream } from './tap/case-results.js';

/** What every kernel of a run shares. */
export interface KernelRunOptions {
  loaded: LoadedSuites;
  accel: AccelMode;
  cacheDir: string;
  tcgSlowdown: number;
  append: readonly string[];
  /** Where a kernel's files go inside the results directory. */
  path(dir: string, name: string): string;
  events: RunEvents;
  /** Restarts and reports printed while no case ran are recorded here. */
  store: ResultStore;
  signal: AbortSignal | undefined;
  stopped(): Missing;
  /** Kernel builds take every core: one at a time, whatever else runs alongside. */
  builds: Mutex;
  /** Injected to replay saved guests or host runs instead of starting real ones. */
  boot?: Booter;
  host?: HostRunner;
}

/** A kernel ready to run cases on: resolved, its helper and image built, its accelerator chosen. */
export interface PreparedKernel {
  record: KernelRecord;
  resolved: ResolvedKernel;
  helper: string;
  baseImage: string | null;
  files: KernelFiles;
}

export interface KernelSlot {
  spec: KernelSpec;
  index: number;
  role: KernelRole | null;
  /** Its files' directory inside the results directory. */
  dir: string;
}

// The kernel's stages, each timed through events: kernel, helper, and for a guest the image
// and accelerator. Infrastructure failures throw.
export async function prepareKernel(o: KernelRunOptions, slot: KernelSlot, label: (resolved: ResolvedKernel) => string): Promise<PreparedKernel> {
  const files: KernelFiles = { dir: slot.dir, path: (name) => o.path(slot.dir, name) };
  if (slot.dir) mkdirSync(files.path(''), { recursive: true });
  const shown = formatKernelSpec(slot.spec);
  const resolved = await o.builds.run(() =>
    o.events.stage(
      'kernel',
      shown,
      () =>
        resolveKernel(slot.spec, {
          cacheDir: o.cacheDir,
          ...(o.signal ? { signal: o.signal } : {}),
          onProgress: (p) => o.events.emit({ type: 'progress', stage: 'kernel', kernel: shown, step: p.step, detail: p.detail }),
        }),
      (k) => ({ cached: k.cached, detail: `${k.label}${k.release && k.release !== k.label ? ` (${k.release})` : ''}` }),
    ),
  );
  const name = label(resolved);
  const helper = await o.events.stage('helper', name, () => buildHelper({ headersDir: resolved.headersDir, cacheDir: o.cacheDir }), (h) => ({ cached: h.cached, detail: h.hash }));
  const base = { id: resolved.id, label: name, index: slot.index, spec: resolved.spec, role: slot.role, release: resolved.release, dir: slot.dir };
  if (resolved.image === null) {
    return { record: { ...base, accel: 'host', timeoutScale: 1 }, resolved, helper: helper.path, baseImage: null, files };
  }
  const image = await o.events.stage('image', name, () => buildBaseImage({ helperPath: helper.path, cacheDir: o.cacheDir }), (i) => ({ cached: i.cached, detail: i.hash }));
  const accel = await o.events.stage('accel', name, () => chooseAccel(o.accel, resolved.image!, o.cacheDir), (a) => ({ cached: a.cached, detail: `${a.accel}: ${a.reason}` }));
  const timeoutScale = accel.accel === 'tcg' ? o.tcgSlowdown : 1;
  checkScaledLimits(o.loaded.suites, timeoutScale, 'under TCG');
  return { record: { ...base, accel: accel.accel, timeoutScale }, resolved, helper: helper.path, baseImage: image.path, files };
}

/** Runs `cases` on a prepared kernel, reporting into `sink`; `rerun` N > 0 is a rerun in fresh guests. */
export async function runCases(o: KernelRunOptions, k: PreparedKernel, cases: readonly PlannedCase[], sink: ResultSink, rerun = 0): Promise<void> {
  const stage = rerun > 0 ? 'rerun' : k.baseImage === null ? 'cases' : 'boot';
  const ready = (qemuCommand: string[] | null) => {
    if (rerun === 0) o.events.emit({ type: 'kernel-ready', kernel: k.record, qemuCommand });
  };
  await o.events.stage(stage, k.record.label, () => (k.baseImage === null ? runHost(o, k, cases, sink, rerun, ready) : runGuest(o, k, cases, sink, rerun, ready)));
}

async function runGuest(o: KernelRunOptions, k: PreparedKernel, cases: readonly PlannedCase[], sink: ResultSink, rerun: number, ready: (argv: string[] | null) => void): Promise<void> {
  const kernel = k.record.id;
  await runGuestSession({
    kernel: k.record,
    accel: k.record.accel as Accel,
    kernelImage: k.resolved.image!,
    append: o.append,
    baseImage: k.baseImage!,
    suites: o.loaded.suites,
    cases,
    files: k.files,
    sink,
    rerun,
    signal: o.signal,
    stopped: o.stopped,
    ...(o.boot ? { boot: o.boot } : {}),
    onFirstStart: ready,
    onRestart: (r) => o.store.addRestart({ kernel, guest: r.guest, cases: r.cases, reason: r.reason }),
    onFinding: (finding) => o.store.addFinding({ kernel, ...finding }),
    onCaseStart: (ref) => o.events.emit({ type: 'case-start', kernel, ...ref }),
  });
}

async function runHost(o: KernelRunOptions, k: PreparedKernel, cases: readonly PlannedCase[], sink: ResultSink, rerun: number, ready: (argv: null) => void): Promise<void> {
  ready(null);
  const suites = o.loaded.suites.map((s) => ({ ...s, cases: s.cases.filter((c) => cases.some((p) => p.suite === s.name && p.case === c.name)) }));
  const plan = k.files.path(guestFileName('plan', 1, rerun));
  await writeFile(plan, compileSuites(suites));
  const stream = new CaseResultStream(k.record.id, cases, (result) => sink.report(result));
  const raw = rawLog(k.files.path(guestFileName('results', 1, rerun)));
  const done = await (o.host ?? runOnHost)(k.helper, plan, (chunk) => {
    raw(chunk);
    stream.write(chunk);
  }, o.signal);
  stream.end();
  await writeFile(k.files.path(hostEndFile(rerun)), `${JSON.stringify(done, null, 2)}\n`);
  if (done.exitCode === 2) throw new FaultlineError('build', `the helper rejected the compiled plan: ${done.stderr.trim()}`, { where: plan });
  const missing: Missing = o.signal?.aborted
    ? o.stopped()
    : { status: 'crash', reason: done.signal ? `no result: the helper was stopped by ${done.signal}` : `no result: the helper exited (${done.exitCode}) before this case reported` };
  for (const p of cases) if (!sink.has(p)) sink.report({ kernel: k.record.id, ...p, ...missing, durationMs: 0 });
}

/** How the helper ended on the host, saved so the run can be read again. */
export function hostEndFile(rerun: number): string {
  return guestFileName('guest-end', 1, rerun).replace(/^guest-end/, 'host-end');
}

