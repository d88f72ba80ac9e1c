import { formatKernelSpec, type KernelSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../core/errors.js';
import { RunEvents, type RunEvent } from '../events.js';
import { ResultStore } from '../model/store.js';
import { caseKey } from '../model/types.js';
import type { GuestConfig } from '../qemu/guest-config.js';
import { writeReports } from '../results/final-reports.js';
import { claimResultsDirectory } from '../results/location.js';
import { ResultsDirectory } from '../results/results-dir.js';
import { runMatrix } from '../run.js';
import type { LoadedSuites } from '../suites.js';
import type { Outcomes } from './verdict.js';

/** One `faultline run` of a bisect: these cases on this kernel, into a results directory of its own. */
export interface StepRunRequest {
  dir: string;
  spec: KernelSpec;
  /** What the kernel is in the bisect (a commit's subject), for run.json's matrix. */
  title: string;
  loaded: LoadedSuites;
  guest: GuestConfig;
  cacheDir: string;
  command: string[];
  signal: AbortSignal;
  onEvent: (event: RunEvent) => void;
}

export type StepRunResult =
  | { kind: 'ran'; outcomes: Outcomes; release: string | null }
  /** The kernel did not build, boot or download: the candidate cannot be tested. */
  | { kind: 'untestable'; why: string }
  | { kind: 'stopped' };

// What a candidate's failure says about it: a build, a boot or a kernel that cannot be had is the
// candidate's; a missing tool, a full disk or a broken engine is the machine's and stops the bisect.
const candidateKinds = new Set(['build', 'boot', 'kernel']);

// The engine's run, as `faultline run` does it, into the step's own directory: run.json, consoles
// and report.html, so each step reads back with `faultline report` and `compare`.
export async function runStepCases(r: StepRunRequest): Promise<StepRunResult> {
  const now = new Date();
  const results = new ResultsDirectory(claimResultsDirectory(r.dir, now), null);
  results.saveSuites(r.loaded.suites);
  const events = new RunEvents();
  events.on((e) => results.handle(e));
  events.on(r.onEvent);
  const kernels = [{ spec: r.spec, role: null, title: r.title }];
  const store = new ResultStore({ command: r.command, kernels: [{ spec: formatKernelSpec(r.spec), role: null, title: r.title }], cases: r.loaded.planned, shard: null, startedAt: now });
  let failure: FaultlineError | null = null;
  try {
    await runMatrix({ loaded: r.loaded, kernels, pairs: [], jobs: 1, shard: null, retries: 0, kselftestSizes: {}, expectations: null }, r.guest, { store, events, cacheDir: r.cacheDir, kernelFiles: (d) => results.kernelFiles(d), signal: r.signal }, results.dir);
  } catch (error) {
    if (!(error instanceof FaultlineError) || !candidateKinds.has(error.kind) || r.signal.aborted) throw error;
    failure = error;
  } finally {
    try {
      await writeReports(store.model, results.dir, { github: false, annotate: () => {} });
    } finally {
      await results.close();
    }
  }
  if (r.signal.aborted) return { kind: 'stopped' };
  if (failure) return { kind: 'untestable', why: untestable(failure) };
  const outcomes: Record<string, { status: (typeof store.model.results)[number]['status']; reason: string | null }> = {};
  for (const result of store.model.results) outcomes[caseKey(result)] = { status: result.status, reason: result.reason };
  return { kind: 'ran', outcomes, release: store.model.kernels[0]?.release ?? null };
}

function untestable(error: FaultlineError): string {
  const what = error.kind === 'build' ? 'does not build' : error.kind === 'boot' ? 'does not boot' : 'cannot be had';
  const message = error.message.split('\n')[0]!.replace(/^the kernel (does not build|did not boot)(: )?/, '');
  return message === '' ? what : `${what}: ${message}`;
}
