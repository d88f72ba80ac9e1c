import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import { bisectHistory, type BisectHistory } from './fixtures/bisect-history.js';
import { linuxSourceMissing } from './fixtures/linux-tree.js';
import { untilLine } from './fixtures/process.js';

// `faultline bisect --tree` for real: a git copy of Debian's 6.1 tree with fourteen small commits
// (test/fixtures/bisect-history.ts), one of them the breaks-minor fixture, two in the middle that
// do not build. One bisect, stopped with Ctrl-C after its first step and run again to the answer;
// then a range whose ends do not differ. Each step is an incremental build of the shared scratch
// tree and one boot with one case.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-bisect-tree-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const history: BisectHistory = linuxSourceMissing ? ({} as BisectHistory) : await bisectHistory(cacheDir());
if (history.made) t.comment(`made the git copy in ${history.made.ms} ms (git add -A -f: ${history.made.addMs} ms)`);

const broken = 'minor-faults/continue-mapped-eexist-shmem';
const short = (hash: string) => hash.slice(0, 12);
const bisectArgs = (results: string, cases: string) => ['bisect', '--tree', history.repo, '--good', history.base, '--bad', history.tip, '--suite', 'suites/minor-faults.yaml', '--case', cases, '--results', results];
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });

interface BisectDoc {
  state: string;
  candidates: { index: number; label: string; commit?: { hash: string; subject: string; author: string } }[];
  oracle: { suite: string; case: string }[] | null;
  steps: { n: number; candidate: number; verdict: string; why: string; dir: string; reruns: { dir: string }[]; ms: number }[];
  answer: { kind: string; firstBad?: number; lastGood?: number } | null;
  skipped: { candidate: number; why: string }[];
  exitCode: number;
}
const readBisect = (dir: string) => JSON.parse(readFileSync(join(dir, 'bisect.json'), 'utf8')) as BisectDoc;

t.test('the history: a dozen small commits, the breaking fixture after two that do not build', async (t) => {
  t.ok(history.commits.length >= 12, `${history.commits.length} commits after the imported tree`);
  t.same(history.commits.filter((c) => c.role === 'breaks').map((c) => c.subject), ['mm/userfaultfd: return -EAGAIN from UFFDIO_CONTINUE on a raced PTE']);
  const status = await execa('git', ['status', '--porcelain'], { cwd: history.repo });
  t.equal(status.stdout, '', 'the working tree is the tip, clean');
});

t.test('stopped with Ctrl-C after its first step and run again, it names the fixture commit', async (t) => {
  const results = join(scratch, 'minor');
  const args = bisectArgs(results, broken);
  const breaking = history.commits.find((c) => c.role === 'breaks')!;
  const unbuildable = history.commits.filter((c) => c.role === 'no-build');

  const child = execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
  t.teardown(() => void child.kill('SIGKILL'));
  // the good end: the imported tree, built (or found in the cache) and booted
  await untilLine(child.stdout!, new RegExp(`^step 1: ${short(history.base)} ran: `), 30 * 60_000);
  child.kill('SIGINT');
  const stopped = await child;
  if (!t.equal(stopped.exitCode, 130, 'stopped by Ctrl-C')) t.comment(stopped.stdout + stopped.stderr);
  const before = readBisect(results);
  t.equal(before.state, 'stopped');
  t.same(before.steps.map((s) => [s.n, s.candidate, s.verdict]), [[1, 0, 'good']], 'the finished step is kept');
  const firstRun = join(results, before.steps[0]!.dir, 'run.json');
  const firstRunTime = statSync(firstRun).mtimeMs;
  const unfinished = readdirSync(results).filter((name) => name.startsWith('step-02-'));

  const resumed = await faultline(args);
  if (!t.equal(resumed.exitCode, 0, 'exit 0: one first bad commit')) t.comment(resumed.stdout + resumed.stderr);
  t.comment(resumed.stdout);
  t.notMatch(resumed.stdout, /^step 1 of about/m, 'step 1 is not run again');
  const progress = resumed.stdout.split('\n').filter((l) => /^step \d+ of about/.test(l));
  t.ok(progress.length > 0, 'each step says what it builds and boots');
  for (const line of progress) t.match(line, new RegExp(`^step \\d+ of about \\d+: (bad end, )?commit [0-9a-f]{12} .* \\(\\d+ of ${history.commits.length}\\): build and boot, 1 case$`));
  t.equal(statSync(firstRun).mtimeMs, firstRunTime, 'its results are left as they were');
  if (unfinished.length > 0) t.ok(existsSync(join(results, `${unfinished[0]}.stopped`)), `the unfinished ${unfinished[0]} is set aside`);

  const out = resumed.stdout;
  t.match(out, `\nfirst bad commit: ${breaking.hash} ${breaking.subject}\n`);
  t.match(out, `\nauthor: ${breaking.author}\n`);
  const doc = readBisect(results);
  t.equal(doc.state, 'done');
  t.same(doc.steps[0], before.steps[0], 'step 1 as the first run left it');
  t.comment(`steps (verdict, ms): ${doc.steps.map((s) => `${s.n} ${s.verdict} ${s.ms}`).join(', ')}`);
  t.same(doc.oracle, [{ suite: 'minor-faults', case: 'continue-mapped-eexist-shmem' }], 'the oracle: the one case, failing on the tip and passing on the base');
  const lastGood = doc.candidates[doc.answer!.lastGood!]!;
  t.equal(lastGood.commit?.subject, 'mm/userfaultfd: fix the build of the UFFDIO_ZEROPAGE pr_debug()', 'the commit before the fixture was seen to pass');
  t.match(out, new RegExp(`^flipped: ${broken}: pass on ${short(lastGood.commit!.hash)}.* -> fail on ${short(breaking.hash)}.*: line \\d+: ioctl CONTINUE: expected errno EEXIST, got EAGAIN`, 'm'));

  // the middle of the range does not build: stepped around, and said
  const skippedLines = out.split('\n').filter((l) => l.startsWith('skipped: '));
  t.ok(skippedLines.length >= 1, 'at least one commit was skipped');
  for (const line of skippedLines) {
    const named = unbuildable.find((c) => line.startsWith(`skipped: ${short(c.hash)} ${c.subject}: does not build: `));
    t.ok(named, `${line}: one of the commits that do not build`);
  }
  t.match(out, /^skipped: [0-9a-f]{12} .*: does not build: .*nr_pages/m, "the compiler's complaint, in a word");
  t.same(doc.skipped.map((s) => doc.candidates[s.candidate]!.commit!.hash).sort(), skippedLines.map((l) => unbuildable.find((c) => l.includes(short(c.hash)))!.hash).sort(), 'bisect.json skips the same');

  // every step (reruns included) has its run's results directory
  const stepLines = out.split('\n').filter((l) => /^step \d+( rerun \d+)? \(\w+\): /.test(l));
  t.equal(stepLines.length, doc.steps.reduce((n, s) => n + 1 + s.reruns.length, 0), 'a line per step and rerun');
  for (const line of stepLines) {
    const dir = line.slice(line.indexOf('): ') + 3);
    const verdict = /\((\w+)\)/.exec(line)![1];
    t.ok(existsSync(join(dir, verdict === 'skip' ? '.' : 'run.json')), `${line}: its directory`);
  }
  t.ok(doc.steps.length <= 2 + 2 + Math.ceil(Math.log2(history.commits.length)), `${doc.steps.length} steps for ${history.commits.length} commits`);

  const last = doc.candidates[doc.steps.at(-1)!.candidate]!;
  const reproduce = /^reproduce the last step: faultline run --tree (\S+) --patches (\S+)\.\.(\S+) .*--case (\S+)/m.exec(out);
  t.ok(reproduce, 'the command that reproduces the last step');
  const [, tree, from, to, cases] = reproduce ?? [];
  const commit = async (rev = '') => (await execa('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: history.repo, reject: false })).stdout;
  t.same([tree, await commit(from), await commit(to), cases], [history.repo, history.base, last.commit!.hash, broken], 'it builds the last step\'s commit on the base and runs the oracle case');
  // run as printed (the paths here need no quoting): the last step's build is found in the cache
  const command = /^reproduce the last step: faultline (.*)$/m.exec(out)![1]!.split(' ');
  const again = await faultline([...command, '--results', join(scratch, 'reproduce')]);
  t.equal(again.exitCode, doc.steps.at(-1)!.verdict === 'bad' ? 1 : 0, 'the last step\'s verdict again');
  t.match(again.stdout, /^kernel .*\(cached\)/m, 'nothing is built');

  t.test('run once more, a finished bisect tells its answer again and runs nothing', async (t) => {
    const again = await faultline(args);
    t.equal(again.exitCode, 0);
    t.notMatch(again.stdout, /^step \d+ of about/m, 'no step ran');
    const answer = (text: string) => text.slice(text.indexOf('first bad commit: '));
    t.equal(answer(again.stdout), answer(out), 'the same answer');
  });
});

t.test('ends that do not differ: said, and the bisect stops with exit 2', async (t) => {
  // the hugetlb twin passes on both ends (the fixture breaks the shmem path only)
  const results = join(scratch, 'same');
  const run = await faultline(bisectArgs(results, 'minor-faults/continue-mapped-eexist-hugetlb'));
  if (!t.equal(run.exitCode, 2, 'exit 2: nothing to bisect')) t.comment(run.stdout + run.stderr);
  t.match(run.stdout, new RegExp(`^no difference: no selected case fails on the bad end \\(${short(history.tip)}.*\\) and passes on the good end \\(${short(history.base)}`, 'm'));
  const doc = readBisect(results);
  t.same(doc.answer, { kind: 'no-difference' });
  t.same(doc.steps.map((s) => s.candidate), [0, doc.candidates.length - 1], 'the two ends, nothing between');
});
