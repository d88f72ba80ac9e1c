import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { errnoText } from '../core/files.js';
import { defaultFailOn, summarize, verdictOf } from './summary.js';
import { runSchemaId } from './run-schema.js';
import { caseKey, type CaseResult, type KernelRecord, type PlannedCase, type RunModel } from './types.js';

/** A result as versions 1 and 2 wrote it: its kernel reports under `findings`. */
type OldResult = Omit<CaseResult, 'reports'> & { findings?: CaseResult['reports'] };

/** The run.json of version 1 (before kernels had ids by content and runs had a matrix). */
interface RunDocumentV1 {
  version: 1;
  startedAt: string;
  finishedAt: string | null;
  command: string[];
  kernels: { id: string; release: string | null; accel: KernelRecord['accel']; timeoutScale?: number }[];
  results: OldResult[];
  restarts?: RunModel['restarts'];
  findings?: RunModel['reports'];
  exitCode: number | null;
}

/** The run.json of version 3: no `$schema`, nor who ran it and where (`faultline`, `host`). */
type RunDocumentV3 = Omit<RunModel, '$schema' | 'version' | 'faultline' | 'host'> & { version: 3 };

/** The run.json of version 2: kernel reports were `findings`; no `why`, nor `filled` or `excerpt` on results. */
type RunDocumentV2 = Omit<RunDocumentV3, 'version' | 'why' | 'reports' | 'results' | 'reruns'> & {
  findings: RunModel['reports'];
  results: OldResult[];
  reruns: (OldResult & { attempt: number })[];
};

/** A result's kernel reports under their name since version 3. */
function upgradeResult<T extends OldResult>({ findings, ...rest }: T): Omit<T, 'findings'> & Pick<CaseResult, 'reports'> {
  return { ...rest, ...(findings ? { reports: findings } : {}) };
}

/** Where a run is: its results directory, or the run.json itself. */
export function runFileOf(path: string): string {
  try {
    return statSync(path).isDirectory() ? join(path, 'run.json') : path;
  } catch (error) {
    throw new FaultlineError('usage', `${path} cannot be read: ${errnoText(error)}`, { hint: 'Give a results directory (results/<stamp>) or a run.json that faultline wrote.' });
  }
}

// Reads any run.json faultline has written, as the current model: `compare`, `merge` and
// `report` work on runs from before this version too.
export function readRun(path: string): RunModel {
  const file = runFileOf(path);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const why = error instanceof SyntaxError ? `not JSON (${error.message})` : errnoText(error);
    throw new FaultlineError('usage', `${file} is not a run faultline can read: ${why}`, { hint: 'Give a results directory (results/<stamp>) or a run.json that faultline wrote.' });
  }
  const version = (doc as { version?: unknown } | null)?.version;
  if (version === 4 && isModel(doc)) return doc as RunModel;
  if (version === 3 && isModel(doc)) return fromV3(doc as unknown as RunDocumentV3);
  if (version === 2 && isModel(doc)) return fromV2(doc as unknown as RunDocumentV2);
  if (version === 1 && Array.isArray((doc as RunDocumentV1).results) && Array.isArray((doc as RunDocumentV1).kernels)) return fromV3(fromV1(doc as RunDocumentV1));
  throw new FaultlineError('usage', `${file} is not a run.json faultline wrote (version ${JSON.stringify(version ?? null)}, expected 1, 2, 3 or 4)`, {
    hint: 'Give a results directory (results/<stamp>) or a run.json that faultline wrote.',
  });
}

function isModel(doc: unknown): boolean {
  const m = doc as Partial<RunModel>;
  return Array.isArray(m.results) && Array.isArray(m.kernels) && typeof m.matrix === 'object' && m.matrix !== null && Array.isArray(m.matrix.cases);
}

// Before version 4 a run did not say which faultline ran it, nor where: both stay unknown.
function fromV3({ version: _, ...doc }: RunDocumentV3): RunModel {
  return { $schema: runSchemaId, version: 4, faultline: null, host: null, ...doc };
}

// Version 2 called kernel reports findings and had no `why`, nor `filled` on results: `why` is the
// verdict again, `filled` stays unknown (such results read as reported).
function fromV2(doc: RunDocumentV2): RunModel {
  const { findings, ...rest } = doc;
  const model = fromV3({ ...rest, results: doc.results.map(upgradeResult), reruns: doc.reruns.map(upgradeResult), reports: findings ?? [], version: 3, why: [] });
  if (doc.exitCode !== null && doc.exitCode !== 0) model.why = verdictOf(model, model.failOn).why;
  return model;
}

function fromV1(doc: RunDocumentV1): RunDocumentV3 {
  const cases: PlannedCase[] = [];
  const seen = new Set<string>();
  for (const r of doc.results) {
    if (seen.has(caseKey(r))) continue;
    seen.add(caseKey(r));
    cases.push({ suite: r.suite, case: r.case });
  }
  const several = doc.kernels.length > 1;
  return {
    version: 3,
    startedAt: doc.startedAt,
    finishedAt: doc.finishedAt,
    command: doc.command,
    matrix: { kernels: doc.kernels.map((k) => ({ spec: k.id, role: null })), cases, pairs: [] },
    failOn: [...defaultFailOn],
    shard: null,
    kernels: doc.kernels.map((k, index) => ({
      id: k.id,
      label: k.id,
      index,
      spec: k.id,
      role: null,
      release: k.release,
      accel: k.accel,
      timeoutScale: k.timeoutScale ?? 1,
      dir: several ? `kernel-${index}` : '',
    })),
    results: doc.results.map(upgradeResult),
    reruns: [],
    restarts: doc.restarts ?? [],
    reports: doc.findings ?? [],
    comparisons: [],
    expectations: null,
    summary: summarize(doc.results),
    exitCode: doc.exitCode,
    why: [],
  };
}

/** run.json's text. */
export function runDocument(model: RunModel): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}
