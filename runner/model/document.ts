import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { errnoText } from '../core/files.js';
import { defaultFailOn, summarize } from './summary.js';
import { caseKey, type CaseResult, type KernelRecord, type PlannedCase, type RunModel } from './types.js';

/** The run.json of version 1 (before kernels had ids by content and runs had a matrix). */
interface RunDocumentV1 {
  version: 1;
  startedAt: string;
  finishedAt: string | null;
  command: string[];
  kernels: { id: string; release: string | null; accel: KernelRecord['accel']; timeoutScale?: number }[];
  results: CaseResult[];
  restarts?: RunModel['restarts'];
  findings?: RunModel['findings'];
  exitCode: number | null;
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
  if (version === 2 && isModel(doc)) return doc;
  if (version === 1 && Array.isArray((doc as RunDocumentV1).results) && Array.isArray((doc as RunDocumentV1).kernels)) return fromV1(doc as RunDocumentV1);
  throw new FaultlineError('usage', `${file} is not a run.json faultline wrote (version ${JSON.stringify(version ?? null)}, expected 1 or 2)`, {
    hint: 'Give a results directory (results/<stamp>) or a run.json that faultline wrote.',
  });
}

function isModel(doc: unknown): doc is RunModel {
  const m = doc as Partial<RunModel>;
  return Array.isArray(m.results) && Array.isArray(m.kernels) && typeof m.matrix === 'object' && m.matrix !== null && Array.isArray(m.matrix.cases);
}

function fromV1(doc: RunDocumentV1): RunModel {
  const cases: PlannedCase[] = [];
  const seen = new Set<string>();
  for (const r of doc.results) {
    if (seen.has(caseKey(r))) continue;
    seen.add(caseKey(r));
    cases.push({ suite: r.suite, case: r.case });
  }
  const several = doc.kernels.length > 1;
  return {
    version: 2,
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
    results: doc.results,
    reruns: [],
    restarts: doc.restarts ?? [],
    findings: doc.findings ?? [],
    comparisons: [],
    expectations: null,
    summary: summarize(doc.results),
    exitCode: doc.exitCode,
  };
}

/** run.json's text. */
export function runDocument(model: RunModel): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}
