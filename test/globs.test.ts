import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { globMatch } from '../runner/core/glob.js';
import { untilLine } from './fixtures/process.js';

// Globs come from users: expectation files (`case:`, `kernel:`) and `--kernel debian:` patterns.
// They mean what a shell means by `*` and `?`, and no pattern takes longer than pattern x text.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-globs-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

t.test('* is any run of characters, ? one character, the rest literal, the whole name', async (t) => {
  const table: [string, string, boolean][] = [
    ['6.1.*', '6.1.0-56-cloud-amd64', true],
    ['6.1.*', '6.12.117+deb12-cloud-amd64', false],
    ['6.1*', '6.12.117+deb12-cloud-amd64', true],
    ['6.1.0-*', '6.12.117+deb12-cloud-amd64', false],
    ['minor-faults/continue-?apped-*', 'minor-faults/continue-mapped-eexist-shmem', true],
    ['continue', 'continue-mapped', false],
    ['mapped', 'continue-mapped', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['?', '', false],
    ['?', 'é', true],
    ['??', '🐧', false],
    ['?', '🐧', true],
    ['*-shmem', 'a-shmem-hugetlb', false],
    ['*-shmem*', 'a-shmem-hugetlb', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'acb', false],
    ['a**b', 'ab', true],
    ['*?', '', false],
    ['*?*', 'x', true],
    ['linux-image-6.1.0-*-cloud-amd64', 'linux-image-6.1.0-56-cloud-amd64', true],
    ['linux-image-6.1.0-*-cloud-amd64', 'linux-image-6.1.0-56-cloud-amd64-dbg', false],
    ['linux-image-6.12.*+deb12-cloud-amd64', 'linux-image-6.12.117+deb12-cloud-amd64', true],
    ['a.c', 'abc', false],
    ['a+', 'aa', false],
    ['(a|b)', 'a', false],
    ['(a|b)', '(a|b)', true],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['^a$', '^a$', true],
    ['a\\*', 'a\\bc', true],
    ['{x}', '{x}', true],
  ];
  for (const [glob, text, expected] of table) t.equal(globMatch(glob, text), expected, `${JSON.stringify(glob)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(text)}`);
});

t.test('the same answers as the RegExp it replaces, on every small pattern and name', async (t) => {
  // The old translation, with s and u so that `?` is one character (newlines and astral ones too).
  const reference = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'su');
  const words = (alphabet: string, max: number): string[] => {
    let all = [''];
    let layer = [''];
    for (let n = 1; n <= max; n++) {
      layer = layer.flatMap((w) => [...alphabet].map((c) => w + c));
      all = all.concat(layer);
    }
    return all;
  };
  const globs = words('ab*?.', 4);
  const texts = words('ab.\n', 5);
  const differ: string[] = [];
  for (const glob of globs) {
    const regexp = reference(glob);
    for (const text of texts) if (globMatch(glob, text) !== regexp.test(text)) differ.push(`${JSON.stringify(glob)} on ${JSON.stringify(text)}`);
  }
  t.same(differ.slice(0, 10), [], `${globs.length} patterns x ${texts.length} names`);
});

t.test('30 stars against long names finish at once (in a child, so a regression fails instead of hanging)', async (t) => {
  const program = [
    `import { globMatch } from ${JSON.stringify(join(root, 'dist', 'runner', 'core', 'glob.js'))};`,
    `const names = ['minor-faults/continue-mapped-eexist-shmem', 'x'.repeat(127), 'ab'.repeat(2000), '6.12.117+deb12-cloud-amd64'];`,
    `const globs = ['*'.repeat(30) + 'zzz', '*a'.repeat(30) + 'zzz', '*?'.repeat(30) + 'zzz', 'minor-faults/' + '*'.repeat(30)];`,
    'const started = performance.now();',
    'const answers = globs.map((g) => names.map((n) => globMatch(g, n)));',
    'console.log(JSON.stringify({ answers, ms: performance.now() - started }));',
  ].join('\n');
  const child = await execa('node', ['--input-type=module', '-e', program], { reject: false, timeout: 60_000 });
  t.equal(child.timedOut, false, 'the child finished (a backtracking matcher would still be running)');
  t.equal(child.exitCode, 0, child.stderr);
  const { answers, ms } = JSON.parse(child.stdout) as { answers: boolean[][]; ms: number };
  t.same(answers, [
    [false, false, false, false],
    [false, false, false, false],
    [false, false, false, false],
    [true, false, false, false],
  ]);
  t.comment(`16 matches of 30-star globs against names of up to 4000 characters: ${ms.toFixed(2)} ms`);
});

t.test('a run whose expectations hold 30-star globs goes on, and still ends at SIGTERM', async (t) => {
  const suite = join(root, 'test', 'fixtures', 'suites', 'fails-then-sleeps.yaml');
  const expectations = join(root, 'test', 'fixtures', 'expect', 'thirty-stars.yaml');
  const dir = join(scratch, 'thirty-stars');
  const child = execa('node', [cli, 'run', '--kernel', 'host', '--suite', suite, '--expect', expectations, '--results', dir], { cwd: root, reject: false, env: { CI: 'true' } });
  t.teardown(() => void child.kill('SIGKILL'));
  // The failing result has been matched against every entry before its line is printed.
  await untilLine(child.stdout!, /^ {2}FAIL {4}fails-then-sleeps\/a-fresh-anonymous-page/, 60_000);
  const sent = performance.now();
  child.kill('SIGTERM');
  const run = await Promise.race([child, new Promise<null>((resolve) => setTimeout(() => resolve(null), 60_000))]);
  t.ok(run, 'the run ended after SIGTERM');
  if (!run) return;
  t.comment(`SIGTERM to exit: ${Math.round(performance.now() - sent)} ms`);
  if (!t.equal(run.exitCode, 143, 'the exit code of SIGTERM')) t.comment(run.stdout + run.stderr);
  t.match(run.stdout, /^ {2}ERROR {3}fails-then-sleeps\/sleeps-for-a-minute\S* 0ms {2}no result: the run was interrupted$/m);
  t.match(run.stdout, `note: stale expectation ${expectations}:2: ******************************zzz matched no result; it can go`);
});
