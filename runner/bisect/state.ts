import { mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { errnoText, writeAtomically } from '../core/files.js';
import type { CaseStatus } from '../model/types.js';
import { resultsDirEntries } from '../results/location.js';
import type { Verdict } from './search.js';

/** A kernel the search may test: index 0 is the good end, the last the bad end. */
export interface CandidateRecord {
  index: number;
  /** For people: the 12-hex commit, or the kernel spec as given. */
  label: string;
  /** The kernel spec as `faultline run` would name it. */
  kernel: string;
  release?: string;
  commit?: { hash: string; subject: string; author: string };
}

/** One run of a step's cases: the first, or a rerun of a flip. */
export interface StepRunRecord {
  dir: string;
  verdict: Verdict;
  why: string;
  statuses: Record<string, CaseStatus>;
  reasons: Record<string, string | null>;
}

export type StepRole = 'good end' | 'bad end' | 'probe';

export interface StepRecord extends StepRunRecord {
  n: number;
  candidate: number;
  role: StepRole;
  reruns: StepRunRecord[];
  unstable?: true;
  ms: number;
}

export type Answer =
  | { kind: 'found'; firstBad: number; lastGood: number; flipped: Flip[] }
  | { kind: 'ambiguous'; among: number[]; lastGood: number }
  | { kind: 'no-difference' };

export interface Flip {
  suite: string;
  case: string;
  good: { status: CaseStatus; reason: string | null };
  bad: { status: CaseStatus; reason: string | null };
}

/** bisect.json: what was asked, what each step found, and the answer once there is one. */
export interface BisectDocument {
  format: 'faultline-bisect';
  version: 1;
  inputs: Record<string, unknown>;
  form: 'tree' | 'kernels';
  command: string[];
  candidates: CandidateRecord[];
  badClass: CaseStatus[];
  oracle: { suite: string; case: string }[] | null;
  /** Oracle cases of the bad end that passed on a rerun there: not believed. */
  unstableAtBadEnd?: string[];
  steps: StepRecord[];
  state: 'running' | 'stopped' | 'done';
  answer: Answer | null;
  skipped: { candidate: number; why: string }[];
  reproduce: string | null;
  exitCode: number | null;
}

export const bisectFile = 'bisect.json';

// A bisect's directory is new, empty, or a bisect of the same inputs, which then continues; a
// directory holding anything else is never written into.
export function openBisectDirectory(dir: string, fresh: () => BisectDocument): { doc: BisectDocument; resumed: boolean } {
  const entries = resultsDirEntries(dir, 'Give a new or empty directory, or the directory of this same bisect.', cannotWrite);
  const doc = fresh();
  if (entries === null || entries.length === 0) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw cannotWrite(dir, error);
    }
    return { doc, resumed: false };
  }
  if (!entries.includes(bisectFile)) {
    const shown = entries.sort().slice(0, 3).join(', ');
    throw new FaultlineError('usage', `--results ${dir} holds files (${shown}${entries.length > 3 ? ', ...' : ''}) and no ${bisectFile}: it is not a bisect's directory`, {
      hint: 'Give a new or empty directory, or the directory of the bisect to continue.',
    });
  }
  const saved = readBisect(dir);
  const differ = Object.keys({ ...doc.inputs, ...saved.inputs }).filter((key) => JSON.stringify(doc.inputs[key]) !== JSON.stringify(saved.inputs[key]));
  if (differ.length > 0) {
    throw new FaultlineError('usage', `--results ${dir} holds a bisect of other inputs (${differ.join(', ')} differ${differ.length === 1 ? 's' : ''})`, {
      hint: 'Run the same command as before to continue it, or give a new directory with --results DIR.',
    });
  }
  return { doc: { ...saved, command: doc.command }, resumed: true };
}

export function readBisect(dir: string): BisectDocument {
  const file = join(dir, bisectFile);
  let doc: BisectDocument;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as BisectDocument;
  } catch (error) {
    throw new FaultlineError('io', `cannot read ${file}: ${error instanceof SyntaxError ? error.message : errnoText(error)}`, { hint: 'Give a new directory with --results DIR to start the bisect again.' });
  }
  if (doc?.format !== 'faultline-bisect' || doc.version !== 1 || !Array.isArray(doc.steps)) {
    throw new FaultlineError('usage', `${file} is not a faultline bisect (version 1)`, { hint: 'Give a new directory with --results DIR.' });
  }
  return doc;
}

/** Written after every step: a bisect stopped at any moment continues from what this says. */
export function saveBisect(dir: string, doc: BisectDocument): void {
  try {
    writeAtomically(join(dir, bisectFile), `${JSON.stringify(doc, null, 2)}\n`);
  } catch (error) {
    throw cannotWrite(dir, error);
  }
}

// A step a stop cut short left a directory no step of bisect.json names; it is kept, renamed, so
// the step can run again under its own name and its partial evidence stays readable.
export function setAsideUnfinished(dir: string, doc: BisectDocument): string[] {
  const named = new Set(doc.steps.flatMap((s) => [s.dir, ...s.reruns.map((r) => r.dir)]));
  const moved: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (!/^step-\d+-/.test(entry) || entry.includes('.stopped') || named.has(entry)) continue;
    let target = `${entry}.stopped`;
    for (let n = 2; existsIn(dir, target); n++) target = `${entry}.stopped-${n}`;
    renameSync(join(dir, entry), join(dir, target));
    moved.push(target);
  }
  return moved;
}

function existsIn(dir: string, name: string): boolean {
  try {
    statSync(join(dir, name));
    return true;
  } catch {
    return false;
  }
}

function cannotWrite(dir: string, cause: unknown): FaultlineError {
  return new FaultlineError('io', `cannot write the bisect to ${dir}: ${errnoText(cause)}`, { hint: 'Choose a writable directory with --results DIR.', cause });
}
