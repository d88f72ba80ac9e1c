import { execa, type ResultPromise } from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import t, { type Test } from 'tap';
import { defaultKernelSpec } from '../kernels/default.js';
import { readRun, runDocument } from '../runner/model/document.js';
import type { CaseResult, RunModel } from '../runner/model/types.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';
import { eventually, untilLine } from './fixtures/process.js';
import { assertRunValid } from './fixtures/run-schema.js';
import { recordRun } from './fixtures/recorded-run.js';

// Saved runs never lie: a run killed outright or interrupted is read back, reparsed and compared
// as what it is, and a run.json of the wrong shape is refused naming where. One real killed run
// and one real interrupted run (real guests, through the built CLI) serve every assertion on them.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const clean = join(import.meta.dirname, 'fixtures', 'runs', 'clean');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-unfinished-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

const faultline = (args: string[], env: NodeJS.ProcessEnv = {}) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true', ...env } });
const unfinishedReason = 'no result: the run did not finish';
const schemaHint = (version: number) => `  Give a results directory (results/<stamp>) or a run.json that faultline wrote, as it wrote it (version ${version} is checked against runner/model/run.schema.json).`;

/** A run started through the CLI, stopped by `signal` once a guest case passed. */
async function stoppedRun(t: Test, name: string, args: string[], guestLine: RegExp, signal: 'SIGKILL' | 'SIGINT'): Promise<{ dir: string; exitCode: number | undefined; stdout: string }> {
  const dir = join(scratch, name);
  const child: ResultPromise = execa('node', [cli, 'run', '--results', dir, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
  await untilLine(child.stdout!, guestLine, 300_000);
  child.kill(signal);
  const done = await child;
  // QEMU dies with faultline (PR_SET_PDEATHSIG), a moment later; its console is whole only then.
  const qemuGone = async () => (await execa('pgrep', ['-f', '--', join(dir, 'initrd')], { reject: false })).exitCode === 1;
  t.ok(await eventually(qemuGone, 10_000), `${name}: no QEMU outlives faultline`);
  return { dir, exitCode: done.exitCode, stdout: String(done.stdout) };
}

/** A valid version 4 run.json of two cases, as a plain object to break. */
function validDocument(): Record<string, unknown> & { results: Record<string, unknown>[]; kernels: unknown[] } {
  const store = modelOf({ kernels: [kernelRecord('k', 0)], cases: [{ suite: 's', case: 'a' }, { suite: 's', case: 'b' }], results: [result('k', 's', 'a', 'pass'), result('k', 's', 'b', 'fail', 'line 4: expected 0')] });
  store.finish(1, ['1 case did not pass'], new Date('2026-11-28T10:01:00Z'));
  return JSON.parse(runDocument(store.model)) as ReturnType<typeof validDocument>;
}

function writeRun(name: string, doc: unknown): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.json'), JSON.stringify(doc));
  return dir;
}

t.test('a run.json of the wrong shape is refused on read, naming the file and the first bad path, exit 2', async (t) => {
  const broken: [string, (doc: ReturnType<typeof validDocument>) => void, string][] = [
    ['results-null', (d) => (d.results = [null as never]), 'results/0 is null, not an object'],
    ['no-reruns', (d) => delete d.reruns, 'reruns is missing'],
    ['numeric-reason', (d) => (d.results[1]!.reason = 5), 'results/1/reason is 5, not a string or null'],
    ['kernels-null', (d) => (d.kernels = [null]), 'kernels/0 is null, not an object'],
    ['bogus-status', (d) => (d.results[0]!.status = 'bogus'), 'results/0/status is "bogus", not one of pass, fail, skip, timeout, crash, error'],
    ['host-number', (d) => (d.host = 5), 'host is 5, not null or an object'],
    ['foreign-member', (d) => (d.results[0]!.console = 'x'), 'results/0/console is not a member of a version 4 run.json'],
    ['escapes', (d) => (d.results[0]!.status = '\u001b[31m\u009b2J'), 'results/0/status is "\\u001b[31m\\u009b2J", not one of pass, fail, skip, timeout, crash, error'],
  ];
  for (const [name, edit, problem] of broken) {
    const doc = validDocument();
    edit(doc);
    const dir = writeRun(name, doc);
    const says = `faultline: ${join(dir, 'run.json')} is not a run.json faultline wrote: ${problem}\n${schemaHint(4)}`;
    for (const args of [['report', dir], ['compare', clean, dir], ['merge', dir, '--results', join(scratch, `${name}-merged`)]]) {
      const refused = await faultline(args);
      t.equal(refused.exitCode, 2, `${name}: ${args[0]} exits 2`);
      t.equal(refused.stderr, says, `${name}: ${args[0]} names the file and the path`);
    }
  }
});

t.test('older versions are checked for what the reader dereferences, in their own terms', async (t) => {
  const v3 = JSON.parse(readFileSync(join(clean, 'run.json'), 'utf8')) as Record<string, unknown> & { results: unknown[] };
  v3.results[0] = null;
  const v2 = { ...validDocument(), version: 2, findings: [{ kernel: 'k', kind: 'warning', title: 'WARNING', text: 'WARNING' }] } as Record<string, unknown>;
  for (const member of ['$schema', 'faultline', 'host', 'why', 'reports']) delete v2[member];
  (v2.results as Record<string, unknown>[])[0]!.findings = [null];
  const v1 = { version: 1, startedAt: '2026-11-20T00:00:00Z', finishedAt: '2026-11-20T00:01:00Z', command: [], kernels: [null], results: [], exitCode: 0 };
  for (const [version, doc, problem] of [[3, v3, 'results/0 is null, not an object'], [2, v2, 'results/0/findings/0 is null, not an object'], [1, v1, 'kernels/0 is null, not an object']] as const) {
    const dir = writeRun(`v${version}`, doc);
    const refused = await faultline(['compare', dir, clean]);
    t.equal(refused.exitCode, 2);
    t.equal(refused.stderr, `faultline: ${join(dir, 'run.json')} is not a run.json faultline wrote: ${problem}\n${schemaHint(version)}`, `version ${version}`);
  }
});

t.test('a 50,000-result run.json is read and checked in well under two seconds', async (t) => {
  const cases = Array.from({ length: 50_000 }, (_, i) => ({ suite: `s${i % 50}`, case: `c${i}` }));
  const doc = validDocument();
  (doc.matrix as { cases: unknown[] }).cases = cases;
  doc.results = cases.map((c, i) => ({ ...result('k', c.suite, c.case, i % 10 === 0 ? 'fail' : 'pass', i % 10 === 0 ? 'line 4: expected 0, got -1 (EAGAIN)' : null), excerpt: { file: 'console.log', start: i * 100, end: i * 100 + 90 } }));
  doc.summary = { pass: 45_000, fail: 5_000, skip: 0, timeout: 0, crash: 0, error: 0 };
  const dir = writeRun('big', doc);
  const started = performance.now();
  const model = readRun(dir);
  const ms = performance.now() - started;
  t.comment(`read ${model.results.length} results in ${Math.round(ms)} ms (the schema compiled on this first read)`);
  t.equal(model.results.length, 50_000);
  t.ok(ms < 2000, `${Math.round(ms)} ms`);
});

t.test('report recomputes the verdict from the results, and says when run.json said otherwise', async (t) => {
  const doc = validDocument();
  Object.assign(doc, { summary: { pass: 2, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 }, exitCode: 0, why: [] });
  const report = await faultline(['report', writeRun('edited', doc)]);
  t.equal(report.exitCode, 1, 'the failed case fails it');
  t.equal(report.stderr, 'note: run.json says 2 pass, exit 0; its results say 1 pass, 1 fail, exit 1 (1 case did not pass), which report exits with');
  t.match(report.stdout, /\n1 passed, 1 failed in 60\.0s\n/, 'the counts are the results\'');
  const same = await faultline(['report', clean]);
  t.equal(same.exitCode, 0);
  t.equal(same.stderr, '', 'nothing to say when they agree');
});

t.test('a killed run read back: the planned cases of its share without a result are errors; a kernel it never got ready stands in', async (t) => {
  const doc = validDocument() as unknown as RunModel;
  doc.finishedAt = null;
  doc.exitCode = null;
  doc.why = [];
  doc.matrix.kernels = [{ spec: 'k', role: null }, { spec: 'debian:linux-image-6.12.0-1-cloud-amd64', role: null }];
  doc.matrix.cases = ['a', 'b', 'c', 'd'].map((name) => ({ suite: 's', case: name }));
  doc.shard = { index: 1, count: 2 };
  doc.kernels[0]!.dir = 'kernel-0';
  doc.results = [result('k', 's', 'a', 'pass')];
  doc.summary = { pass: 1, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 };
  const model = readRun(writeRun('killed-shard', doc));
  // Two kernels in two shards: shard 1 is kernel 0's, all four cases of it.
  t.same(model.results.map((r) => `${r.kernel} ${r.case} ${r.status} ${r.reason ?? ''}`), ['k a pass ', `k b error ${unfinishedReason}`, `k c error ${unfinishedReason}`, `k d error ${unfinishedReason}`]);
  t.same(model.summary, { pass: 1, fail: 0, skip: 0, timeout: 0, crash: 0, error: 3 }, 'the counts are the results\'');
  doc.shard = { index: 2, count: 2 };
  doc.results = [];
  const other = readRun(writeRun('killed-shard-2', doc));
  t.same(other.kernels.map((k) => `${k.id} ${k.label} ${k.dir} ${k.accel}`), ['k k kernel-0 tcg', 'unresolved-1 debian:linux-image-6.12.0-1-cloud-amd64 kernel-1 null'], 'the kernel it never got ready has the record of one that never resolved');
  t.same(other.results.map((r) => `${r.kernel} ${r.case} ${r.filled}`), ['unresolved-1 a unfinished', 'unresolved-1 b unfinished', 'unresolved-1 c unfinished', 'unresolved-1 d unfinished']);
});

t.test('a run killed at any moment: run.json is its head, the journal holds every result it recorded, and a reader gets them all', async (t) => {
  const dir = join(scratch, 'moments');
  mkdirSync(dir);
  const seen = (results: readonly CaseResult[]) => results.map((r) => `${r.kernel} ${r.suite}/${r.case} ${r.status}`).sort();
  let moments = 0;
  const wrong: string[] = [];
  const store = recordRun(dir, {
    kernels: 2,
    cases: 6,
    // Read back after every event, as a reader of a run killed right then would find it.
    after: (event, store) => {
      if (event.type === 'run-end') return;
      moments++;
      const file = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunModel & { journal?: string };
      const model = readRun(dir);
      const problems = [
        file.journal === 'events.jsonl' && file.results.length === 0 && file.finishedAt === null ? null : 'run.json is not a head that points at its journal',
        isDeepStrictEqual(seen(model.results.filter((r) => r.filled !== 'unfinished')), seen(store.model.results)) ? null : 'results differ',
        model.results.length === model.matrix.cases.length * 2 ? null : 'a planned case has no result',
        isDeepStrictEqual([model.restarts, model.reports, model.kernels.filter((k) => !k.id.startsWith('unresolved-'))], [store.model.restarts, store.model.reports, store.model.kernels]) ? null : 'restarts, reports or kernels differ',
      ].filter((p) => p !== null);
      if (problems.length) wrong.push(`after ${event.type} (${store.model.results.length} recorded): ${problems.join('; ')}`);
    },
  });
  t.same(wrong, [], `${moments} moments, each read back whole`);
  t.ok(moments > 12, `${moments} moments`);
  t.same(assertRunValid(t, dir), JSON.parse(runDocument(store.model)), 'the finished run.json is the whole document, written once at the end');
  t.same(readRun(dir).results, store.model.results);

  // Killed while it wrote a line: the line cut short is lost, everything before it stands.
  const torn = join(scratch, 'moments-torn');
  cpSync(dir, torn, { recursive: true });
  const lines = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes('"c4"'));
  writeFileSync(join(torn, 'events.jsonl'), `${lines.slice(0, at).join('\n')}\n${lines[at]!.slice(0, 40)}`);
  const head = { ...store.model, finishedAt: null, results: [], reruns: [], restarts: [], reports: [], exitCode: null, why: [], journal: 'events.jsonl' };
  writeFileSync(join(torn, 'run.json'), JSON.stringify(head));
  const read = readRun(torn);
  t.same(read.results.filter((r) => r.filled !== 'unfinished').map((r) => `${r.kernel} ${r.case}`), ['k0 c0', 'k0 c1', 'k0 c2', 'k0 c3'], 'the results before the torn line');
  t.equal(read.results.filter((r) => r.filled === 'unfinished').length, 8, 'the rest of the plan is unfinished');

  // A journal line of the wrong shape is refused like a bad run.json, naming both files.
  const bad = join(scratch, 'moments-bad');
  cpSync(torn, bad, { recursive: true });
  writeFileSync(join(bad, 'events.jsonl'), `${lines.slice(0, at).join('\n').replace('"status":"pass"', '"status":"bogus"')}\n`);
  const refused = await faultline(['report', bad]);
  t.equal(refused.exitCode, 2);
  t.match(refused.stderr, `faultline: ${join(bad, 'events.jsonl')} is not a journal faultline wrote: with ${join(bad, 'run.json')}, results/`);
  t.match(refused.stderr, 'is "bogus", not one of pass, fail');
});

t.test('a guest run killed with SIGKILL midway', async (t) => {
  const killed = await stoppedRun(t, 'killed', [], /^ {2}ok /, 'SIGKILL');
  const file = assertRunValid(t, killed.dir) as RunModel & { journal?: string };
  t.equal(file.finishedAt, null, 'run.json has no end');
  t.equal(file.exitCode, null);
  t.same([file.journal, file.results], ['events.jsonl', []], 'run.json is the head; the results are in the journal');
  const model = readRun(killed.dir);
  const journaled = readFileSync(join(killed.dir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.startsWith('{"type":"case-result"')).map((l) => (JSON.parse(l) as { result: CaseResult }).result);
  t.ok(journaled.length > 0, `${journaled.length} results in the journal`);
  for (const r of journaled) t.same(model.results.find((x) => x.suite === r.suite && x.case === r.case), r, `${r.case}: read back as recorded`);
  const reported = model.results.filter((r) => r.filled === undefined);
  const neverRan = model.results.filter((r) => r.filled === 'unfinished');
  t.ok(reported.length > 0 && neverRan.length > 0, `${reported.length} reported, ${neverRan.length} never ran`);
  t.equal(reported.length + neverRan.length, model.matrix.cases.length, 'every planned case has a result');
  t.ok(neverRan.every((r) => r.status === 'error' && r.reason === unfinishedReason && r.durationMs === 0));
  const names = neverRan.map((r) => `${r.suite}/${r.case}`);

  t.test('report exits 1 and names every case that never ran', async (t) => {
    const report = await faultline(['report', killed.dir]);
    t.equal(report.exitCode, 1, report.stderr);
    t.equal(report.stderr, `note: the run did not finish (run.json has no finishedAt: it was killed, or is still going); ${names.length} planned cases without a result count as errors, so report exits 1: ${names.join(', ')}`);
    t.match(report.stdout, `\n  ERROR   ${names[0]} 0ms  ${unfinishedReason}\n          and ${names.length - 1} more cases with the same reason\n`, 'the narration tells them after what the run told');
    t.match(report.stdout, new RegExp(`\\n${reported.filter((r) => r.status === 'pass').length} passed, 0 failed, .*${names.length} errored in `), 'and counts them');
    t.notMatch(report.stdout, /passed \(|✅/);
  });

  t.test('every report says so: TAP, JUnit, HTML and the step summary', async (t) => {
    const junit = join(scratch, 'killed.junit.xml');
    const html = join(scratch, 'killed.html');
    const summary = join(scratch, 'killed-summary.md');
    const report = await faultline(['report', killed.dir, '--junit', junit, '--html', html, '--github'], { GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: summary });
    t.equal(report.exitCode, 1);
    const xml = readFileSync(junit, 'utf8');
    t.equal(xml.match(/<error /g)?.length, names.length, 'JUnit: an error per case that never ran');
    t.match(xml, `message="${unfinishedReason}"`);
    t.match(readFileSync(html, 'utf8'), `the run did not finish: ${names.length} cases without a result`, 'the HTML verdict');
    t.match(readFileSync(summary, 'utf8'), /^### ❌ faultline: \d+ cases did not pass; the run did not finish: \d+ cases without a result /);
    const tap = await faultline(['report', killed.dir, '--tap']);
    t.equal(tap.stdout.match(/^ {4}not ok \d+ /gm)?.length, names.length, 'TAP: not ok for each');
  });

  t.test('report --reparse replays what results.raw holds and marks only the rest, with no crash and no restart', async (t) => {
    const out = join(scratch, 'killed-reparsed.json');
    const reparse = await faultline(['report', '--reparse', killed.dir, '--json', out]);
    t.equal(reparse.exitCode, 1, reparse.stderr);
    const again = assertRunValid(t, out);
    t.same(again.restarts, [], 'no guest is invented');
    t.equal(again.finishedAt, null);
    t.equal(again.exitCode, null, 'a run that never finished has no exit code');
    t.ok(again.results.every((r) => r.status === 'pass' || r.status === 'skip' || (r.status === 'error' && r.reason === unfinishedReason)), 'no crash, no other error');
    const status = new Map(again.results.map((r) => [`${r.suite}/${r.case}`, r.status]));
    for (const r of reported) t.equal(status.get(`${r.suite}/${r.case}`), r.status, `${r.case} as the run reported it`);
    t.ok(again.results.filter((r) => r.filled === 'unfinished').length <= names.length, 'the channels may hold a result run.json had not written yet');
    t.match(reparse.stderr, /^note: the run did not finish \(.*\); \d+ planned cases without a result count as errors, so report exits 1: /);

    const noConsole = join(scratch, 'killed-no-console');
    cpSync(killed.dir, noConsole, { recursive: true });
    unlinkSync(join(noConsole, 'console.log'));
    const blind = await faultline(['report', '--reparse', noConsole, '--json', join(scratch, 'killed-no-console.json')]);
    t.equal(blind.exitCode, 1, blind.stderr);
    const results = assertRunValid(t, join(scratch, 'killed-no-console.json')).results;
    for (const r of reported) t.equal(results.find((x) => x.case === r.case)?.status, r.status, `without console.log, ${r.case} still replays from results.raw`);
  });

  t.test('compare against a clean run: the cases that never ran are errors, never removed, and it exits 1', async (t) => {
    const compared = await faultline(['compare', clean, killed.dir]);
    t.equal(compared.exitCode, 1, compared.stderr);
    const passedThere = new Set(readRun(clean).results.filter((r) => r.status === 'pass').map((r) => `${r.suite}/${r.case}`));
    for (const name of names) {
      t.notMatch(compared.stdout, ` ${name}  pass -> -`, `${name} is not removed`);
      if (passedThere.has(name)) t.match(compared.stdout, `\n  regression    ${name}  pass -> error  ${unfinishedReason}\n`, `${name}: a regression`);
    }
    t.ok(compared.stdout.endsWith(`\n${killed.dir}: the run did not finish; its ${names.length} cases without a result compare as errors`), compared.stdout.slice(-300));
    const asBaseline = await faultline(['compare', killed.dir, clean, '--fail-on', 'none']);
    t.equal(asBaseline.exitCode, 1, 'an unfinished baseline fails the comparison too, whatever --fail-on says');
  });
});

t.test('a --jobs 2 run of a guest kernel and the host interrupted with SIGINT', async (t) => {
  const interrupted = await stoppedRun(t, 'interrupted', ['--kernel', await defaultKernelSpec(), '--kernel', 'host', '--jobs', '2'], /^ {2}ok +(?!host )\S+ {2}\S+\//, 'SIGINT');
  t.equal(interrupted.exitCode, 130);
  const live = assertRunValid(t, interrupted.dir);
  t.equal(live.exitCode, 130);
  const stopped = live.results.filter((r) => r.filled === 'stopped');
  t.ok(stopped.length > 0, `${stopped.length} cases the stop cut short`);
  t.ok(stopped.every((r: CaseResult) => r.status === 'error' && r.reason === 'no result: the run was interrupted'));

  t.test('report judges it by its results, exit 1, and says run.json said 130', async (t) => {
    const report = await faultline(['report', interrupted.dir]);
    t.equal(report.exitCode, 1, 'not 130: the report was not interrupted');
    t.match(report.stderr, new RegExp(`^note: run\\.json says .*, exit 130 \\(stopped by a signal\\); its results say .*${stopped.length} error.*, exit 1 \\(\\d+ cases did not pass; the run was interrupted: ${stopped.length} cases without a result\\), which report exits with$`));
  });

  t.test('report --reparse gives the results the live run wrote: the case it was in is interrupted, not a crash, and no guest is restarted', async (t) => {
    const out = join(scratch, 'interrupted-reparsed.json');
    const reparse = await faultline(['report', '--reparse', interrupted.dir, '--json', out]);
    t.equal(reparse.exitCode, 1, reparse.stderr);
    const again = assertRunValid(t, out);
    t.same(again.results, live.results);
    t.same(again.restarts, []);
    t.same([again.exitCode, again.why], [130, ['stopped by a signal']], 'and how it ended, from its run.json');
    t.notMatch(reparse.stdout, /CRASH|guest-end-2/);
  });
});

t.test('report --reparse of a merged run says to reparse each shard, exit 2; a shard reparses', async (t) => {
  const suite = join(root, 'test', 'fixtures', 'suites', 'skip-causes.yaml');
  for (const i of [1, 2]) {
    const shard = await faultline(['run', '--kernel', 'host', '--suite', suite, '--shard', `${i}/2`, '--results', join(scratch, `s${i}`)]);
    t.equal(shard.exitCode, 0, shard.stderr);
  }
  const merged = join(scratch, 'merged');
  t.equal((await faultline(['merge', join(scratch, 's1'), join(scratch, 's2'), '--results', merged])).exitCode, 0);
  const refused = await faultline(['report', '--reparse', merged]);
  t.equal(refused.exitCode, 2);
  t.equal(refused.stderr, `faultline: ${merged} is a merged run (faultline merge): its guests' consoles and result channels are each shard's, under shard-N/, so it cannot be reparsed whole\n  Reparse each shard (faultline report --reparse ${join(merged, 'shard-1')}, and so on), or drop --reparse to render the merged run.json.`);
  const shard = await faultline(['report', '--reparse', join(merged, 'shard-1')]);
  t.equal(shard.exitCode, 0, shard.stderr);
});
