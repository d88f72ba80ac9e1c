import { execa } from 'execa';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { KernelReport } from '../runner/model/types.js';
import { terminalLine, terminalText } from '../runner/reporters/terminal-text.js';
import { kernelRecord, modelOf, result, saveFinishedRun } from './fixtures/model.js';

// A run.json from an untrusted job, reported by a trusted one: names, labels, reasons and
// kernel report titles that hold escape sequences and GitHub workflow commands must reach the
// terminal (and the CI log) as text, through the real `faultline report` and `faultline compare`.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-escape-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

// Without GITHUB_ACTIONS: no annotations, which are GitHub's own commands on purpose.
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true', GITHUB_ACTIONS: '' } });

const esc = '\x1b';
const hostileReason = `${esc}[2J${esc}[31mred${esc}[0m\n::error::from the second line\n##[add-mask]secret`;
const hostileTitle = `BUG: ${esc}]0;retitled${esc}\\ ##[stop-commands]token`;
const report: KernelReport = { kind: 'bug', title: hostileTitle, text: `${hostileTitle}\nCall Trace:\n mfill+0x1/0x2`, fatal: false };
const suite = '::error::suite';
const name = '##[warning]case';

/** A results directory holding a run of these kernels over the hostile case and a plain one. */
function savedRun(dir: string, labels: string[], statuses: ('pass' | 'fail')[], journal: boolean): string {
  const kernels = labels.map((label, i) => kernelRecord(`k${i}`, i, { label, spec: `${label} spec`, role: labels.length > 1 ? (i === 0 ? 'baseline' : 'candidate') : null }));
  const cases = [{ suite, case: name }, { suite: 'plain', case: 'ok' }];
  const store = modelOf({
    kernels,
    cases,
    results: kernels.flatMap((k, i) => [
      { ...result(k.id, suite, name, statuses[i]!, statuses[i] === 'fail' ? hostileReason : null), ...(statuses[i] === 'fail' ? { reports: [report] } : {}) },
      result(k.id, 'plain', 'ok', 'pass'),
    ]),
  });
  if (kernels.length > 1) store.model.matrix.pairs = [[0, 1]];
  store.addReport({ ...report, kernel: 'k0' });
  const path = join(scratch, dir);
  const verdict = saveFinishedRun(store, path, new Date('2026-11-28T10:01:00Z'));
  if (journal) {
    // What the run narrated, as a hostile job could have written it.
    const events = [
      { type: 'run-start', resultsDir: path, jobs: 1, share: kernels.map(() => 2) },
      { type: 'stage-end', stage: 'kernel', label: `${esc}[1m::warning::label`, ms: 10, detail: `detail\n::error::detail` },
      { type: 'note', message: `${esc}[31m::notice::note\n##[group]more` },
      { type: 'guest-restart', kernel: 'k0', guest: 2, cases: 1, reason: `died\r::error::restart` },
      { type: 'kernel-report', kernel: 'k0', report },
      ...store.model.results.map((r) => ({ type: 'case-result', result: r })),
      { type: 'run-end', exitCode: verdict.exitCode, why: verdict.why, ms: 60_000 },
    ];
    for (const e of events) appendFileSync(join(path, 'events.jsonl'), `${JSON.stringify(e)}\n`);
  }
  return path;
}

/** What must never be on stdout: an escape or other control byte (a newline ends a line), a line
 * GitHub reads as a `::` command, or a `##[` command anywhere in a line. */
function assertInert(t: Test, out: string, what: string): void {
  t.notOk(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(out), `${what}: no control byte`);
  t.same(out.split('\n').filter((l) => /^\s*::/.test(l)), [], `${what}: no line starts with ::`);
  t.same(out.split('\n').filter((l) => l.includes('##[')), [], `${what}: no ##[ in any line`);
}

t.test('terminal text: control characters shown, CI commands taken apart, tabs kept', async (t) => {
  t.equal(terminalText(`${esc}[31mred\x07\r\n\x9b1m\tend`), '\\x1b[31mred\\x07\\x0d\\x0a\\x9b1m\tend');
  t.equal(terminalLine('::error::x'), '\\x3a:error::x');
  t.equal(terminalLine(' \t ::warning file=a::y'), ' \t \\x3a:warning file=a::y', 'after leading blanks too (the runner trims them)');
  t.equal(terminalLine('a ::b'), 'a ::b', 'a :: later in a line is no command');
  t.equal(terminalLine('x ##[group]y ###[z'), 'x \\x23#[group]y #\\x23#[z', '##[ anywhere in a line is one');
  t.equal(terminalLine('  FAIL  minor-faults/case  expected EEXIST'), '  FAIL  minor-faults/case  expected EEXIST', 'plain text is as it was');
  t.equal(terminalLine(terminalLine('::e:: ##[x] \x1b')), terminalLine('::e:: ##[x] \x1b'), 'made safe once is safe');
});

t.test('faultline report of a hostile run.json: every line is text, a reason is its first line', async (t) => {
  const dir = savedRun('hostile', [`${esc}[5mbase::error::`, '::error::cand'], ['pass', 'fail'], false);
  const run = await faultline(['report', dir]);
  t.equal(run.exitCode, 1, run.stderr);
  assertInert(t, run.stdout, 'report');
  const lines = run.stdout.split('\n');
  t.ok(lines.includes('  FAIL    \\x3a:error::cand  ::error::suite/\\x23#[warning]case 4ms  \\x1b[2J\\x1b[31mred\\x1b[0m'), 'the case line: the reason\'s first line, escaped');
  t.notOk(run.stdout.includes('from the second line'), 'the reason\'s other lines are in run.json, not here');
  t.ok(lines.includes('      \\x1b[2J\\x1b[31mred\\x1b[0m'), 'what needs attention: the reason, indented and escaped');
  t.ok(lines.includes('\\x3a:error::cand against \\x1b[5mbase::error::: 1 regression (1 unchanged)'), 'the comparison names the kernels as text');
});

t.test('faultline report narrating a hostile journal: notes, stages and restarts are text too', async (t) => {
  const dir = savedRun('journal', ['::error::only'], ['fail'], true);
  const run = await faultline(['report', dir]);
  t.equal(run.exitCode, 1, run.stderr);
  assertInert(t, run.stdout, 'report with a journal');
  const lines = run.stdout.split('\n');
  t.ok(lines.includes('note: \\x1b[31m::notice::note\\x0a\\x23#[group]more'), 'a note on one line');
  t.ok(lines.some((l) => l.startsWith('kernel ') && l.includes('\\x1b[1m::warning::label') && l.includes('detail\\x0a::error::detail')), 'a stage line on one line');
  t.ok(lines.some((l) => l.includes('died\\x0d::error::restart')), 'a restart on one line');
  t.ok(lines.includes('note: kernel bug while no case ran: BUG: \\x1b]0;retitled\\x1b\\ \\x23#[stop-commands]token'), 'a kernel report\'s title, escaped');
});

t.test('faultline compare of hostile runs: every line is text', async (t) => {
  const base = savedRun('compare-base', [`${esc}[5mbase`], ['pass'], false);
  const cand = savedRun('compare-cand', ['::error::cand'], ['fail'], false);
  const run = await faultline(['compare', base, cand]);
  t.equal(run.exitCode, 1, run.stderr);
  assertInert(t, run.stdout, 'compare');
  t.equal(run.stdout, [
    '\\x3a:error::cand against \\x1b[5mbase: 1 regression (1 unchanged)',
    '  regression    ::error::suite/\\x23#[warning]case  pass -> fail  \\x1b[2J\\x1b[31mred\\x1b[0m; new kernel report: BUG: \\x1b]0;retitled\\x1b\\ \\x23#[stop-commands]token',
  ].join('\n'), 'a :: inside a line is no command; ##[ anywhere is taken apart');
  // Matrices with no label in common: the refusal names the labels, as text.
  const a = savedRun('matrix-a', [`${esc}[5ma1`, 'a2'], ['pass', 'pass'], false);
  const b = savedRun('matrix-b', ['b1', `b2\n::error::x`], ['pass', 'pass'], false);
  const refused = await faultline(['compare', a, b]);
  t.equal(refused.exitCode, 2);
  t.equal(refused.stderr, `faultline: ${a} and ${b} share no kernel to compare (by label: \\x1b[5ma1, a2 against b1, b2\\x0a::error::x)\n  Compare runs of one kernel each, or matrices run on the same kernels.`);
});
