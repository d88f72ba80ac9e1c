import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { buildBaseImage, buildGuestLayer, GUEST_PROGRAMS_DIR } from '../images/initramfs.js';
import type { ResolvedGuestImage } from '../images/guest-image.js';
import { buildImageEnv } from '../images/build-image.js';
import { resolveKernel, type ResolvedKernel } from '../kernels/resolve.js';
import { formatKernelSpec, type KernelSpec } from '../kernels/spec.js';
import { FaultlineError } from './core/errors.js';
import { runGuestSession } from './guest/session.js';
import { guestImageName, guestImageRecord, guestRootfs, resolveGuestImageOnce, type GuestRootfs } from './guest/userland.js';
import { defaultWorkersCap } from './guest/workers.js';
import { guestFileName, type KernelFiles } from './results/kernel-files.js';
import { buildHelper } from './helper/build.js';
import { runOnHost } from './host.js';
import { filledResult, type Missing } from './model/filled.js';
import type { ResultSink } from './model/sink.js';
import { caseKey, type KernelRecord, type MatrixKernel, type PlannedCase, type SkipCause } from './model/types.js';
import type { Mutex } from './parallel.js';
import { chooseAccel, defaultAccelHost } from './qemu/accel.js';
import { qemuVersion } from './qemu/version.js';
import type { GuestConfig } from './qemu/guest-config.js';
import type { RunServices } from './run-services.js';
import { rawLog } from './results/raw-log.js';
import { checkScaledLimits } from './suite/compile.js';
import { compileUnits } from './sources/plan.js';
import { unitsFor, yamlUnits, type RunUnit } from './sources/unit.js';
import { kselftestUnits, type KselftestInfo } from './sources/kselftest/source.js';
import type { KselftestPlan } from './sources/kselftest/plan.js';
import { describeSizes, kselftestSizes, type KselftestSizes } from './sources/kselftest/sizes.js';
import { vmtestsHugepages, vmtestsUnits, type KselftestRunner } from './sources/kselftest/vmtests.js';
import { selftestBuildFor } from './sources/kselftest/runner-choice.js';
import { stageVmtests } from './sources/kselftest/vmtests-stage.js';
import { buildSelftests, selftestTargets, type BuiltSelftests } from '../kernels/selftests/programs.js';
import { preparedTree } from '../kernels/selftests/origin.js';
import { buildSourceSelftests } from '../kernels/source/selftests.js';
import type { LoadedSuites } from './suites.js';
import { CaseResultStream } from './tap/case-results.js';

/** What every kernel of a run shares. */
export interface KernelRunOptions {
  loaded: LoadedSuites;
  guest: GuestConfig;
  /** `--kselftest-mib`, `--kselftest-bounces`: the selftests' stress sizes, instead of the accelerator's. */
  kselftestSizes: { mib?: number; bounces?: number };
  /** `--kselftest-runner`: faultline's own runs of the static programs (the default), or the tree's run_vmtests.sh. */
  kselftestRunner?: KselftestRunner;
  services: RunServices;
  /** The user's stop and the run's own --timeout. */
  signal: AbortSignal | undefined;
  stopped(): Missing;
  /** Kernel and selftest builds take every core, and downloads share the cache's index: one at a
   * time, whatever else runs alongside. */
  builds: Mutex;
}

/** A kernel ready to run cases on: resolved, its helper and image built, its accelerator chosen. */
export interface PreparedKernel {
  record: KernelRecord;
  resolved: ResolvedKernel;
  helper: string;
  baseImage: string | null;
  /** The guest's userland (busybox for the host kernel, which boots none). */
  guestImage: ResolvedGuestImage;
  /** For an engine image: its filesystem, the initramfs segment before `baseImage` (faultline's layer then). */
  rootfs: GuestRootfs | null;
  files: KernelFiles;
  /** With `--suite kselftest:userfaultfd`: the kernel's selftests, built, and how big they run. */
  selftests: PreparedSelftests | null;
}

export interface PreparedSelftests {
  info: KselftestInfo;
  sizes: KselftestSizes;
  /** The built programs; null when a saved run is read again. */
  dir: string | null;
  /** Where hugetlb_shared's file goes: the guest's mount, or the host's (none: those cases skip). */
  hugetlbfs: string | null;
  /** Who runs them; absent (saved by an older faultline) is faultline's own runs. */
  runner?: KselftestRunner;
}

/** A kernel of the matrix with its place: its index, and its files' directory in the results directory. */
export interface KernelSlot extends MatrixKernel<KernelSpec> {
  index: number;
  dir: string;
}

// The kernel's stages, each timed through events: kernel, helper, and for a guest the image
// and accelerator. Infrastructure failures throw.
export async function prepareKernel(o: KernelRunOptions, slot: KernelSlot, label: (resolved: ResolvedKernel) => string): Promise<PreparedKernel> {
  const files = o.services.kernelFiles(slot.dir);
  const shown = formatKernelSpec(slot.spec);
  // A kernel waiting its turn behind another's download or build is not started after a stop.
  const resolved = await o.builds.run(() => {
    o.signal?.throwIfAborted();
    return o.services.events.stage(
      'kernel',
      shown,
      () =>
        resolveKernel(slot.spec, {
          cacheDir: o.services.cacheDir,
          ...(o.signal ? { signal: o.signal } : {}),
          onProgress: (p) => o.services.events.emit({ type: 'progress', stage: 'kernel', label: shown, step: p.step, detail: p.detail }),
          buildEnvOf: (name) =>
            buildImageEnv(name, { cacheDir: o.services.cacheDir, ...(o.signal ? { signal: o.signal } : {}), onProgress: (line) => o.services.events.emit({ type: 'progress', stage: 'kernel', label: shown, step: 'image', detail: line }) }),
        }),
      (k) => ({ cached: k.cached, detail: `${k.label}${k.release && k.release !== k.label ? ` (${k.release})` : ''}` }),
    );
  });
  const name = label(resolved);
  for (const note of resolved.configNotes ?? []) o.services.events.emit({ type: 'note', message: `${name}: ${note}` });
  const signal = o.signal ? { signal: o.signal } : {};
  const helper = await o.services.events.stage('helper', name, () => buildHelper({ headersDir: resolved.headersDir, cacheDir: o.services.cacheDir, ...signal }), (h) => ({ cached: h.cached, detail: h.hash }));
  const plan = o.loaded.kselftest?.[slot.index];
  const runner = o.kselftestRunner ?? 'programs';
  // run_vmtests.sh's programs are built in the guest's image, once it is resolved; static ones first, as ever.
  const buildFor = async (guest: ResolvedGuestImage | null): Promise<BuiltSelftests | null> => {
    if (!plan) return null;
    const build = selftestBuildFor(runner, guest, { kernel: name, image: guestImageName(o.guest, slot.spec) });
    return o.services.events.stage('selftests', name, () => o.builds.run(() => buildKselftests(o, plan, resolved, name, build)), (b) => ({ cached: b.cached, detail: `${plan.info.what}: ${b.programs.join(', ')}${b.linkage === 'dynamic' ? ' (dynamically linked) and run_vmtests.sh' : ''}` }));
  };
  const early = runner === 'programs' ? await buildFor(null) : null;
  const base = { id: resolved.id, label: name, index: slot.index, spec: resolved.spec, role: slot.role, release: resolved.release, dir: slot.dir, ...(resolved.build ? { tree: resolved.build } : {}) };
  const selftests = async (accel: 'kvm' | 'tcg' | 'host', built: BuiltSelftests | null): Promise<PreparedSelftests | null> => {
    if (!plan || !built) return null;
    const own = kselftestSizes(accel, o.kselftestSizes);
    // The script holds the huge pages it insists on, whatever the stress sizes.
    const sizes = runner === 'vmtests' ? { ...own, hugepages: vmtestsHugepages(plan.info, o.guest.cpus) } : own;
    const dir = runner === 'vmtests' ? await stageVmtests(built, sizes, o.services.cacheDir) : built.dir;
    const prepared = { info: plan.info, sizes, dir, hugetlbfs: accel === 'host' ? hostHugetlbfs() : '/dev/hugepages', runner };
    const { dir: _programs, ...saved } = prepared;
    files.write('kselftest.json', `${JSON.stringify(saved, null, 2)}\n`);
    o.services.events.emit({ type: 'note', message: `${name}: ${describeSizes(prepared.sizes, accel)}` });
    return prepared;
  };
  if (resolved.image === null) {
    return { record: { ...base, accel: 'host', timeoutScale: 1 }, resolved, helper: helper.path, baseImage: null, guestImage: { kind: 'busybox' }, rootfs: null, files, selftests: await selftests('host', early ?? (await buildFor(null))) };
  }
  const imageName = guestImageName(o.guest, slot.spec);
  const { image, guestImage, rootfs } = await o.services.events.stage(
    'image',
    name,
    async () => {
      const progress = (line: string) => o.services.events.emit({ type: 'progress', stage: 'image', label: name, step: imageName, detail: line });
      const guestImage = await resolveGuestImageOnce(o.services, imageName, { cacheDir: o.services.cacheDir, ...signal, onProgress: progress });
      const rootfs = guestRootfs(imageName, guestImage, o.guest);
      const image = await (guestImage.kind === 'busybox' ? buildBaseImage : buildGuestLayer)({ helperPath: helper.path, cacheDir: o.services.cacheDir, ...signal });
      return { image, guestImage, rootfs };
    },
    (i) => ({ cached: i.image.cached && (i.guestImage.kind === 'busybox' || i.guestImage.rootfs.cached), detail: i.guestImage.kind === 'busybox' ? i.image.hash : `${imageName} ${i.guestImage.image.id.slice(0, 19)}` }),
  );
  const accel = await o.services.events.stage('accel', name, () => chooseAccel(o.guest.accel, resolved.image!, o.services.cacheDir, defaultAccelHost, o.signal), (a) => ({ cached: a.cached, detail: `${a.accel}: ${a.reason}` }));
  o.services.store.noteQemu(await qemuVersion());
  const timeoutScale = accel.accel === 'tcg' ? o.guest.tcgSlowdown : 1;
  checkScaledLimits(o.loaded.suites, timeoutScale, 'under TCG');
  const accelProof = { reason: accel.reason, probeMs: accel.probeMs, cached: accel.cached };
  const record = { ...base, accel: accel.accel, accelProof, timeoutScale, guestImage: guestImageRecord(imageName, guestImage, image.hash), workers: o.guest.workers ?? defaultWorkersCap };
  return { record, resolved, helper: helper.path, baseImage: image.path, guestImage, rootfs, files, selftests: await selftests(accel.accel, early ?? (await buildFor(guestImage))) };
}

// A source kernel's own selftests are built from its series in its scratch copy; any other
// origin is unpacked or copied into the cache first.
async function buildKselftests(o: KernelRunOptions, plan: KselftestPlan, resolved: ResolvedKernel, name: string, build: ReturnType<typeof selftestBuildFor>): Promise<BuiltSelftests> {
  const signal = o.signal ? { signal: o.signal } : {};
  if (plan.origin.kind === 'source') {
    if (!resolved.source) throw new FaultlineError('kernel', `${resolved.spec} was not built by faultline, so it has no tree of its own to take selftests from`, { hint: 'Give --selftests-from TREE.' });
    const own = build.linkage === 'dynamic' ? { build } : {};
    return buildSourceSelftests(resolved.source, { cacheDir: o.services.cacheDir, ...signal, ...own, onProgress: (p) => o.services.events.emit({ type: 'progress', stage: 'selftests', label: name, step: p.step, detail: p.detail }) });
  }
  const root = await preparedTree({ ...plan.origin, kind: plan.origin.kind === 'tarball' ? 'tarball' : 'tree' }, o.services.cacheDir, o.signal);
  return buildSelftests(root, { cacheDir: o.services.cacheDir, ...signal, ...build });
}

/** Runs `cases` on a prepared kernel, reporting into `sink`; `rerun` N > 0 is a rerun in fresh guests. */
export async function runCases(o: KernelRunOptions, k: PreparedKernel, cases: readonly PlannedCase[], sink: ResultSink, rerun = 0): Promise<void> {
  const stage = rerun > 0 ? 'rerun' : k.baseImage === null ? 'cases' : 'boot';
  const ready = () => {
    if (rerun === 0) o.services.events.emit({ type: 'kernel-ready', kernel: k.record });
  };
  await o.services.events.stage(stage, k.record.label, () => (k.baseImage === null ? runHost(o, k, cases, sink, rerun, ready) : runGuest(o, k, cases, sink, rerun, ready)));
}

// What the kernel runs for `cases`: the YAML cases, and the selftest runs that give the kernel's
// selftest cases. A selftest case the kernel's selftests do not have skips, saying so.
function unitsOf(o: KernelRunOptions, k: PreparedKernel, cases: readonly PlannedCase[], sink: ResultSink): { units: RunUnit[]; runnable: PlannedCase[] } {
  const vmtests = k.selftests?.runner === 'vmtests' && k.baseImage !== null;
  const selftests = k.selftests && vmtests
    ? { units: vmtestsUnits(k.selftests.info, cases, { cwd: GUEST_PROGRAMS_DIR, cpus: o.guest.cpus }), skips: [] }
    : k.selftests
    ? kselftestUnits(k.selftests.info, cases, k.selftests.sizes, { cwd: k.baseImage === null ? (k.selftests.dir ?? '.') : GUEST_PROGRAMS_DIR, hugetlbfs: k.selftests.hugetlbfs })
    : { units: [], skips: [] };
  const units = [...yamlUnits(o.loaded.suites), ...selftests.units];
  const skip = (c: PlannedCase, reason: string, skipCause?: SkipCause) => sink.report({ kernel: k.record.id, suite: c.suite, case: c.case, status: 'skip', reason, durationMs: 0, ...(skipCause ? { skipCause } : {}) });
  // The only skip the plan decides for a selftest is a missing hugetlbfs mount: a resource.
  for (const s of selftests.skips) skip(s.ref, s.reason, 'resource');
  const covered = new Set(units.flatMap((u) => u.cases.map(caseKey)));
  const runnable = cases.filter((c) => covered.has(caseKey(c)));
  for (const c of cases) {
    if (covered.has(caseKey(c)) || selftests.skips.some((s) => caseKey(s.ref) === caseKey(c))) continue;
    // Its own selftests lack the test (its release or its series has none): decided before anything
    // runs and saying nothing of the kernel, as a release gate is, so never a regression nor rerun.
    if (k.selftests) skip(c, `${k.selftests.info.what} has no such test (its userfaultfd selftests are ${selftestTargets[k.selftests.info.generation].programs.join(' and ')})`, 'release');
    else skip(c, 'this kernel has no selftests planned');
  }
  return { units, runnable };
}

/** The host's hugetlbfs mount, if it has one. */
function hostHugetlbfs(): string | null {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  return mounts.find((f) => f[2] === 'hugetlbfs')?.[1] ?? null;
}

async function runGuest(o: KernelRunOptions, k: PreparedKernel, cases: readonly PlannedCase[], sink: ResultSink, rerun: number, ready: () => void): Promise<void> {
  const kernel = k.record.id;
  const { units, runnable } = unitsOf(o, k, cases, sink);
  await runGuestSession({
    kernel: k.record,
    units,
    programs: k.selftests?.dir ?? null,
    guest: o.guest,
    kernelImage: k.resolved.image!,
    kernelAcpi: k.resolved.config?.get('CONFIG_ACPI') === 'y',
    baseImage: k.baseImage!,
    rootfs: k.rootfs,
    suites: o.loaded.suites,
    cases: runnable,
    files: k.files,
    sink,
    rerun,
    signal: o.signal,
    stopped: o.stopped,
    ...(o.services.boot ? { boot: o.services.boot } : {}),
    onFirstStart: ready,
    onRestart: (r) => o.services.store.addRestart({ kernel, guest: r.guest, cases: r.cases, reason: r.reason }),
    onReport: (report) => o.services.store.addReport({ kernel, ...report }),
    onCaseStart: (ref) => o.services.events.emit({ type: 'case-start', kernel, ...ref }),
  });
}

async function runHost(o: KernelRunOptions, k: PreparedKernel, planned: readonly PlannedCase[], sink: ResultSink, rerun: number, ready: () => void): Promise<void> {
  ready();
  const { units: all, runnable: cases } = unitsOf(o, k, planned, sink);
  const units = unitsFor(all, cases);
  const plan = k.files.path(guestFileName('plan', 1, rerun));
  await writeFile(plan, compileUnits(o.loaded.suites, units, 1));
  // No console on the host: a unit's result is its cases' results as soon as it arrives.
  const unitOf = new Map(units.map((u) => [caseKey(u.ref), u] as const));
  const stream = new CaseResultStream(k.record.id, units.map((u) => u.ref), (result, diag) => {
    for (const r of unitOf.get(caseKey(result))?.expand({ ...result, diag, console: [] }, []) ?? []) sink.report(r);
  });
  const raw = rawLog(k.files.path(guestFileName('results', 1, rerun)));
  const done = await (o.services.host ?? runOnHost)(k.helper, plan, (chunk) => {
    raw(chunk);
    stream.write(chunk);
  }, o.signal);
  stream.end();
  k.files.write(hostEndFile(rerun), `${JSON.stringify(done, null, 2)}\n`);
  if (done.exitCode === 2) throw new FaultlineError('build', `the helper rejected the compiled plan: ${done.stderr.trim()}`, { where: plan });
  // A saved helper's end says itself whether the run's stop ended it (report --reparse).
  const missing: Missing = (done.aborted ?? o.signal?.aborted)
    ? o.stopped()
    : { status: 'crash', cause: 'helper-exited', detail: done.signal ? `the helper was stopped by ${done.signal}` : `the helper exited (${done.exitCode}) before this case reported` };
  for (const p of cases) if (!sink.has(p)) sink.report(filledResult(k.record.id, p, missing));
}

/** How the helper ended on the host, saved so the run can be read again. */
export function hostEndFile(rerun: number): string {
  return guestFileName('guest-end', 1, rerun).replace(/^guest-end/, 'host-end');
}

