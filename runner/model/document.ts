import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { errnoText } from '../core/files.js';
import { defaultFailOn, summarize, verdictOf } from './summary.js';
import { runSchemaId } from './run-schema.js';
import { runSchemaProblem, type RunVersion } from './run-schema-check.js';
import { caseKey, type CaseResult, type KernelRecord, type PlannedCase, type RunModel } from './types.js';
import { markUnfinished } from './unfinished.js';
import { foldJournal, journalFile, journalMember } from './run-journal.js';

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

/** What a run.json itself says of how the run went, which `report` holds against its results. */
export interface SavedVerdict {
  summary: RunModel['summary'];
  exitCode: number | null;
  why: string[];
}

// Reads any run.json faultline has written, as the current model: `compare`, `merge` and
// `report` work on runs from before this version too. Checked against the schema first, so a
// wrong member is named instead of crashing whatever reads it; a run that never finished has its
// planned cases without a result filled in (unfinished.ts); the counts are the results' own.
export function readRun(path: string): RunModel {
  return readRunRecord(path).model;
}

/** The run, and what its run.json said of it before its counts were taken from its results. */
export function readRunRecord(path: string): { model: RunModel; saved: SavedVerdict } {
  const file = runFileOf(path);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const why = error instanceof SyntaxError ? `not JSON (${error.message})` : errnoText(error);
    throw new FaultlineError('usage', `${file} is not a run faultline can read: ${why}`, { hint: 'Give a results directory (results/<stamp>) or a run.json that faultline wrote.' });
  }
  const version = (doc as { version?: unknown } | null)?.version;
  if (version !== 1 && version !== 2 && version !== 3 && version !== 4) {
    throw new FaultlineError('usage', `${file} is not a run.json faultline wrote (version ${JSON.stringify(version ?? null)}, expected 1, 2, 3 or 4)`, {
      hint: 'Give a results directory (results/<stamp>) or a run.json that faultline wrote.',
    });
  }
  const problem = runSchemaProblem(doc, version);
  if (problem) {
    throw new FaultlineError('usage', `${file} is not a run.json faultline wrote: ${problem}`, {
      hint: `Give a results directory (results/<stamp>) or a run.json that faultline wrote, as it wrote it (version ${version} is checked against runner/model/run.schema.json).`,
    });
  }
  const model = upgrade(doc, version);
  if (journalMember in model) readJournaled(model, file);
  const saved: SavedVerdict = { summary: model.summary, exitCode: model.exitCode, why: model.why };
  markUnfinished(model);
  model.summary = summarize(model.results);
  return { model, saved };
}

// A run.json written while the run went is its head: the results it had recorded are in the
// journal beside it (run-journal.ts), checked as the whole document they make.
function readJournaled(model: RunModel, file: string): void {
  delete (model as Partial<Record<typeof journalMember, unknown>>)[journalMember];
  foldJournal(model, dirname(file));
  const problem = runSchemaProblem(model, 4);
  if (problem) {
    throw new FaultlineError('usage', `${join(dirname(file), journalFile)} is not a journal faultline wrote: with ${file}, ${problem}`, {
      hint: 'Give a results directory (results/<stamp>) as faultline wrote it.',
    });
  }
  model.summary = summarize(model.results);
}

function upgrade(doc: unknown, version: RunVersion): RunModel {
  if (version === 4) return doc as RunModel;
  if (version === 3) return fromV3(doc as RunDocumentV3);
  if (version === 2) return fromV2(doc as RunDocumentV2);
  return fromV3(fromV1(doc as RunDocumentV1));
}

// Before version 4 a run did not say which faultline ran it, nor where: both stay unknown.
function fromV3(doc: RunDocumentV3): RunModel {
  // Members a version 3 file should not have had are not taken for the version 4 ones.
  const { version: _, $schema: _s, faultline: _f, host: _h, ...rest } = doc as RunDocumentV3 & Partial<Pick<RunModel, '$schema' | 'faultline' | 'host'>>;
  return { $schema: runSchemaId, version: 4, faultline: null, host: null, ...rest };
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

/** run.json's text while the run goes: the plan, kernels and host, with the results left to the
 * journal beside it, so each checkpoint costs the head's bytes and never the results' again. */
export function runHeadDocument(model: RunModel): string {
  const head = { ...model, results: [], reruns: [], restarts: [], reports: [], summary: summarize([]), [journalMember]: journalFile };
  return `${JSON.stringify(head, null, 2)}\n`;
}
