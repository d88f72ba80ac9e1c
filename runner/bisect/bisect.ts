import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelSpec } from '../../kernels/spec.js';
import { abortExitCode } from '../core/abort.js';
import { FaultlineError } from '../core/errors.js';
import type { GuestConfig } from '../qemu/guest-config.js';
import type { LoadedSuites } from '../suites.js';
import { answerLines } from './answer.js';
import type { Candidate } from './candidates.js';
import { nextStep, probesLeft, type Verdict } from './search.js';
import { saveBisect, setAsideUnfinished, type BisectDocument, type Flip, type StepRecord, type StepRunRecord } from './state.js';
import { stepLines } from './step-lines.js';
import { runStepCases } from './step-run.js';
import { oracleOf, stepVerdict, type Outcomes } from './verdict.js';

/** What the command hands the bisect: its directory and document, the candidates, and how a step runs. */
export interface BisectRequest {
  dir: string;
  doc: BisectDocument;
  resumed: boolean;
  candidates: Candidate[];
  /** The selected cases as they are for one kernel (a kernel's own selftests differ by kernel). */
  loadCases(spec: KernelSpec): Promise<LoadedSuites>;
  guest: GuestConfig;
  retries: number;
  cacheDir: string;
  /** `faultline run ...` for this candidate and these cases (null: the cases as selected). */
  reproduce(candidate: Candidate, cases: string[] | null): string;
  out(line: string): void;
  signal: AbortSignal;
}

/** found (0), among several (1); ends that do not differ cannot answer the question asked (2, as bad input). */
export const bisectExit = { found: 0, ambiguous: 1, noDifference: 2 } as const;

class Stopped extends Error {}

// The loop: the two ends with every selected case (which gives the oracle), then probes with the
// oracle's cases until the range holds one candidate or only skipped ones. bisect.json is written
// after every step, so a stop loses at most the step it cut short.
export async function runBisect(r: BisectRequest): Promise<number> {
  const { doc, dir } = r;
  if (doc.state === 'done' && doc.exitCode !== null) {
    r.out(`this bisect is done (${join(dir, 'bisect.json')}); its answer:`);
    for (const line of answerLines(doc, dir)) r.out(line);
    return doc.exitCode;
  }
  if (r.resumed && JSON.stringify(doc.candidates.map((c) => c.label)) !== JSON.stringify(r.candidates.map((c) => c.label))) {
    throw new FaultlineError('usage', `the candidates of ${join(dir, 'bisect.json')} are not the ones these inputs give now`, { hint: 'Give a new directory with --results DIR to start again.' });
  }
  doc.candidates = r.candidates.map(({ spec: _spec, dirLabel: _dir, ...record }) => record);
  for (const moved of setAsideUnfinished(dir, doc)) r.out(`note: a step a stop cut short is kept as ${join(dir, moved)}`);
  const count = r.candidates.length;
  r.out(r.resumed ? `bisect: continuing in ${dir}, ${doc.steps.length} step${doc.steps.length === 1 ? '' : 's'} done` : `bisect: ${describeRange(r)}; results in ${dir}`);
  doc.state = 'running';
  saveBisect(dir, doc);
  try {
    const oracle = await ends(r);
    if (oracle.length === 0) return finish(r, { kind: 'no-difference' }, bisectExit.noDifference, r.reproduce(r.candidates[count - 1]!, null));
    for (;;) {
      const next = nextStep(count, verdicts(doc));
      if (next.kind === 'found') return finish(r, { ...next, flipped: flips(doc, oracle, next.lastGood, next.firstBad) }, bisectExit.found);
      if (next.kind === 'ambiguous') return finish(r, next, bisectExit.ambiguous);
      await probe(r, r.candidates[next.candidate]!, oracle);
    }
  } catch (error) {
    if (!(error instanceof Stopped)) throw error;
    doc.state = 'stopped';
    saveBisect(dir, doc);
    r.out(`stopped after ${doc.steps.length} step${doc.steps.length === 1 ? '' : 's'}: run the same command again to continue (${join(dir, 'bisect.json')})`);
    return abortExitCode(r.signal);
  }
}

function describeRange(r: BisectRequest): string {
  const [good, bad] = [r.candidates[0]!, r.candidates[r.candidates.length - 1]!];
  if (r.doc.form === 'tree') return `${r.candidates.length - 1} commit${r.candidates.length === 2 ? '' : 's'} from good ${good.label} to bad ${bad.label}`;
  return `${r.candidates.length} kernels from ${good.label} (good end) to ${bad.label} (bad end)`;
}

// Both ends run every selected case; the oracle is what they disagree on. The bad end's verdict
// differs from the good end's, so its oracle cases are rerun like any flip: a case that does not
// fail again is unstable, and no oracle.
async function ends(r: BisectRequest): Promise<string[]> {
  const { doc } = r;
  const count = r.candidates.length;
  const good = doc.steps.find((s) => s.role === 'good end') ?? (await end(r, r.candidates[0]!, 'good end'));
  let bad = doc.steps.find((s) => s.role === 'bad end');
  if (!bad) {
    const started = performance.now();
    bad = await end(r, r.candidates[count - 1]!, 'bad end');
    let oracle = oracleOf(outcomesOf(good), outcomesOf(bad), doc.badClass);
    const unstable: string[] = [];
    for (let attempt = 1; attempt <= r.retries && oracle.length > 0; attempt++) {
      const again = await runOnce(r, r.candidates[count - 1]!, bad.n, `-rerun-${attempt}`, oracle, `rerun ${attempt} of ${r.retries} of the bad end's oracle cases`);
      bad.reruns.push(again);
      const held = oracle.filter((key) => doc.badClass.includes(again.statuses[key]!));
      unstable.push(...oracle.filter((key) => !held.includes(key)));
      oracle = held;
    }
    bad.ms = Math.round(performance.now() - started);
    doc.unstableAtBadEnd = unstable;
    doc.oracle = oracle.map(refOf);
    r.out(oracle.length > 0 ? `oracle: ${oracle.length} case${oracle.length === 1 ? '' : 's'} ${oracle.length === 1 ? 'fails' : 'fail'} on the bad end and ${oracle.length === 1 ? 'passes' : 'pass'} on the good end: ${oracle.join(', ')}` : 'oracle: no case fails on the bad end and passes on the good end');
    for (const key of unstable) r.out(`unstable: ${key} did not hold on a rerun of the bad end, so it is no oracle case`);
    // The other way round is a fix, which this search does not look for; said, so nobody wonders.
    for (const key of oracleOf(outcomesOf(bad), outcomesOf(good), doc.badClass)) r.out(`note: ${key} is ${good.statuses[key]} on the good end and passes on the bad end: bisect looks for the change that broke a case, not one that fixed it`);
    doc.steps.push(bad);
    saveBisect(r.dir, doc);
  }
  return (doc.oracle ?? []).map((c) => `${c.suite}/${c.case}`);
}

async function end(r: BisectRequest, candidate: Candidate, role: 'good end' | 'bad end'): Promise<StepRecord> {
  const n = r.doc.steps.length + 1;
  const started = performance.now();
  const first = await runOnce(r, candidate, n, '', null, null);
  if (first.verdict === 'skip' && Object.keys(first.statuses).length === 0) {
    throw new FaultlineError('kernel', `the ${role} ${candidate.label} ${first.why}; a bisect needs both ends to run`, {
      where: join(r.dir, first.dir),
      hint: `Give a ${role === 'good end' ? '--good' : '--bad'} (or ${role === 'good end' ? 'oldest' : 'newest'} kernel) that builds and boots.`,
    });
  }
  const record: StepRecord = { ...first, verdict: role === 'good end' ? 'good' : 'bad', why: '', n, candidate: candidate.index, role, reruns: [], ms: Math.round(performance.now() - started) };
  // The bad end is saved with its reruns, once the oracle is known.
  if (role === 'good end') {
    r.doc.steps.push(record);
    saveBisect(r.dir, r.doc);
  }
  return record;
}

// One probe: the oracle cases on a candidate. A verdict that differs from the last one believed
// is rerun before it is believed; one that does not hold is unstable and counts as a skip.
async function probe(r: BisectRequest, candidate: Candidate, oracle: string[]): Promise<void> {
  const { doc } = r;
  const n = doc.steps.length + 1;
  const started = performance.now();
  const first = await runOnce(r, candidate, n, '', oracle, null);
  const record: StepRecord = { ...first, n, candidate: candidate.index, role: 'probe', reruns: [], ms: 0 };
  const believed = [...doc.steps].reverse().find((s) => s.verdict !== 'skip')?.verdict;
  if (first.verdict !== 'skip' && believed && believed !== first.verdict) {
    for (let attempt = 1; attempt <= r.retries; attempt++) {
      record.reruns.push(await runOnce(r, candidate, n, `-rerun-${attempt}`, oracle, `rerun ${attempt} of ${r.retries}: ${first.verdict} after ${believed}`));
    }
    const seen = [first.verdict, ...record.reruns.map((x) => x.verdict)];
    if (seen.some((v) => v !== first.verdict)) {
      record.unstable = true;
      record.verdict = 'skip';
      record.why = `unstable: ${seen.join(', then ')}`;
      r.out(`step ${n}: ${candidate.label} is unstable (${seen.join(', then ')}): counted as skipped`);
    }
  }
  record.ms = Math.round(performance.now() - started);
  if (record.verdict === 'skip') doc.skipped.push({ candidate: candidate.index, why: record.why });
  doc.steps.push(record);
  saveBisect(r.dir, doc);
}

/** One run of a step: announced, run into its directory, its verdict said. */
async function runOnce(r: BisectRequest, candidate: Candidate, n: number, suffix: string, oracle: string[] | null, rerun: string | null): Promise<StepRunRecord> {
  const loaded = await r.loadCases(candidate.spec);
  const cases = oracle ? only(loaded, oracle) : loaded;
  const dir = `step-${String(n).padStart(2, '0')}-${candidate.dirLabel}${suffix}`;
  const caseCount = `${cases.planned.length} case${cases.planned.length === 1 ? '' : 's'}`;
  if (rerun) r.out(`step ${n}: ${rerun}, ${caseCount}`);
  else r.out(`step ${n} of about ${aboutTotal(r, n)}: ${whatIs(r, candidate)}: ${candidate.spec.kind === 'source' ? 'build and boot' : 'boot'}, ${caseCount}`);
  const ran = await runStepCases({
    dir: join(r.dir, dir),
    spec: candidate.spec,
    title: candidate.commit?.subject ?? candidate.label,
    loaded: cases,
    guest: r.guest,
    cacheDir: r.cacheDir,
    command: process.argv.slice(1),
    signal: r.signal,
    onEvent: stepLines(r.out),
  });
  if (ran.kind === 'stopped') throw new Stopped();
  let record: StepRunRecord;
  if (ran.kind === 'untestable') {
    record = { dir, verdict: 'skip', why: ran.why, statuses: {}, reasons: {} };
  } else {
    const keys = oracle ?? Object.keys(ran.outcomes);
    const judged = oracle ? stepVerdict(ran.outcomes, oracle, r.doc.badClass) : { verdict: 'good' as Verdict, why: '' };
    record = {
      dir,
      ...judged,
      statuses: Object.fromEntries(keys.filter((k) => ran.outcomes[k]).map((k) => [k, ran.outcomes[k]!.status])),
      reasons: Object.fromEntries(keys.filter((k) => ran.outcomes[k]).map((k) => [k, ran.outcomes[k]!.reason])),
    };
  }
  const where = `(${join(r.dir, dir)})`;
  if (!oracle) r.out(`step ${n}: ${candidate.label} ran: ${summary(record)} ${where}`);
  else if (rerun) r.out(`step ${n}: rerun: ${record.verdict}${record.why ? `: ${record.why}` : ''} ${where}`);
  else r.out(`step ${n}: ${candidate.label} is ${record.verdict === 'skip' ? 'skipped' : record.verdict}${record.why ? `: ${record.why}` : ''} ${where}`);
  return record;
}

function summary(record: StepRunRecord): string {
  if (record.verdict === 'skip' && Object.keys(record.statuses).length === 0) return `skipped: ${record.why}`;
  const counts = new Map<string, number>();
  for (const status of Object.values(record.statuses)) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
}

function whatIs(r: BisectRequest, c: Candidate): string {
  const last = r.candidates.length - 1;
  const role = c.index === 0 ? 'good end, ' : c.index === last ? 'bad end, ' : '';
  if (c.commit) return `${role}commit ${c.label} ${c.commit.subject} (${c.index} of ${last})`;
  return `${role}kernel ${c.label} (${c.release ? `${c.release}, ` : ''}${c.index + 1} of ${last + 1})`;
}

/** Steps done, plus the ends not yet run, plus a binary search over what is still untested
 * (the step about to run is one of those). */
function aboutTotal(r: BisectRequest, n: number): number {
  const endsLeft = ['good end', 'bad end'].filter((role) => !r.doc.steps.some((s) => s.role === role)).length;
  return Math.max(n, r.doc.steps.length + endsLeft + probesLeft(r.candidates.length, verdicts(r.doc)));
}

function verdicts(doc: BisectDocument): Map<number, Verdict> {
  return new Map(doc.steps.map((s) => [s.candidate, s.verdict]));
}

function outcomesOf(record: StepRunRecord): Outcomes {
  return Object.fromEntries(Object.entries(record.statuses).map(([key, status]) => [key, { status, reason: record.reasons[key] ?? null }]));
}

function refOf(key: string): { suite: string; case: string } {
  const slash = key.indexOf('/');
  return { suite: key.slice(0, slash), case: key.slice(slash + 1) };
}

/** The loaded cases cut to the oracle's: its suites keep only those cases. */
function only(loaded: LoadedSuites, keys: readonly string[]): LoadedSuites {
  const wanted = new Set(keys);
  return {
    ...loaded,
    suites: loaded.suites.map((s) => ({ ...s, cases: s.cases.filter((c) => wanted.has(`${s.name}/${c.name}`)) })).filter((s) => s.cases.length > 0),
    planned: loaded.planned.filter((p) => wanted.has(`${p.suite}/${p.case}`)),
  };
}

function flips(doc: BisectDocument, oracle: readonly string[], lastGood: number, firstBad: number): Flip[] {
  const at = (candidate: number, verdict: Verdict) => doc.steps.find((s) => s.candidate === candidate && s.verdict === verdict)!;
  const [good, bad] = [outcomesOf(at(lastGood, 'good')), outcomesOf(at(firstBad, 'bad'))];
  return oracle.filter((key) => good[key] && bad[key]).map((key) => ({ ...refOf(key), good: good[key]!, bad: bad[key]! }));
}

function finish(r: BisectRequest, answer: NonNullable<BisectDocument['answer']>, exitCode: number, reproduce?: string): number {
  const { doc } = r;
  const last = doc.steps[doc.steps.length - 1]!;
  const oracle = (doc.oracle ?? []).map((c) => `${c.suite}/${c.case}`);
  doc.answer = answer;
  doc.reproduce = reproduce ?? r.reproduce(r.candidates[last.candidate]!, oracle);
  doc.exitCode = exitCode;
  doc.state = 'done';
  saveBisect(r.dir, doc);
  const lines = answerLines(doc, r.dir);
  writeFileSync(join(r.dir, 'answer.txt'), `${lines.join('\n')}\n`);
  const reruns = doc.steps.reduce((n, s) => n + s.reruns.length, 0);
  const ms = doc.steps.reduce((n, s) => n + s.ms, 0);
  r.out(`bisect: ${doc.steps.length} steps, ${reruns} rerun${reruns === 1 ? '' : 's'}, ${doc.skipped.length} skipped, ${minutes(ms)} in steps`);
  r.out('');
  for (const line of lines) r.out(line);
  return exitCode;
}

const minutes = (ms: number) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s` : `${(ms / 1000).toFixed(1)}s`);
