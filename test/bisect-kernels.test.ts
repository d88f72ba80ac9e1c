import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';

// `faultline bisect --kernel` over kernels that exist, where the answer is known: bzImages of
// Debian's 6.1 tree (the builds other tests make, found in the cache), three with harmless patches
// and then the breaks-minor fixture and two series holding it. Equal releases keep the order
// given, so the first breaking kernel is the fourth. No builds during the bisect, one boot a step.
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const patches = join(root, 'test', 'fixtures', 'patches');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-bisect-kernels-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
const broken = 'minor-faults/continue-mapped-eexist-shmem';
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const series = (n: number) => join(patches, 'series-3', readFileSync(join(patches, 'series-3', 'series'), 'utf8').split('\n').filter(Boolean)[n - 1]!);
const only = (dir: string) => join(patches, dir, readdirSync(join(patches, dir)).find((f) => f.endsWith('.patch'))!);

const lineup: Array<{ name: string; patches: string[]; breaks: boolean }> = [
  { name: 'base', patches: [], breaks: false },
  { name: 'harmless', patches: [only('harmless')], breaks: false },
  { name: 'fs-comment', patches: [series(3)], breaks: false },
  { name: 'breaks-minor', patches: [only('breaks-minor')], breaks: true },
  { name: 'series-1-2', patches: [series(1), series(2)], breaks: true },
  { name: 'series-3', patches: [join(patches, 'series-3')], breaks: true },
];

// Each kernel as a packaged kernel sits: vmlinuz-NAME with config-NAME beside it.
async function bzImageOf(i: number, kernel: (typeof lineup)[number]): Promise<string> {
  const built = await faultline(['build', '--tree', tree, ...kernel.patches.flatMap((p) => ['--patches', p])]);
  if (built.exitCode !== 0) throw new Error(`faultline build ${kernel.name}: exit ${built.exitCode}\n${built.stderr}`);
  const image = built.stdout.trim().split('\n').pop()!;
  const name = `${i + 1}-${kernel.name}`;
  copyFileSync(image, join(scratch, `vmlinuz-${name}`));
  copyFileSync(join(dirname(image), 'config'), join(scratch, `config-${name}`));
  return join(scratch, `vmlinuz-${name}`);
}

t.test('a list with a breaking kernel among good ones: the first breaking one, in about log2(N) boots', async (t) => {
  const images: string[] = [];
  for (const [i, kernel] of lineup.entries()) images.push(await bzImageOf(i, kernel));
  const results = join(scratch, 'bisect');
  const run = await faultline(['bisect', ...images.flatMap((k) => ['--kernel', k]), '--suite', 'suites/minor-faults.yaml', '--case', broken, '--retries', '0', '--results', results]);
  if (!t.equal(run.exitCode, 0, 'exit 0: one first bad kernel')) t.comment(run.stdout + run.stderr);
  t.comment(run.stdout);
  const firstBad = lineup.findIndex((k) => k.breaks);
  t.match(run.stdout, new RegExp(`^first bad kernel: ${literal(images[firstBad]!)} \\(6\\.1\\.\\d+`, 'm'));
  t.match(run.stdout, `\nlast good: ${images[firstBad - 1]}`);
  t.match(run.stdout, new RegExp(`^flipped: ${broken}: pass on ${literal(images[firstBad - 1]!)} -> fail on ${literal(images[firstBad]!)}`, 'm'));
  t.match(run.stdout, /^skipped: none$/m);
  t.match(run.stdout, new RegExp(`^reproduce the last step: faultline run --kernel /\\S+ .*--case ${broken}`, 'm'));
  t.notMatch(run.stdout, /^kernel .* (copy|patch|config|compile)$/m, 'nothing was built');

  // the two ends, then a binary search over the kernels between them
  const steps = readdirSync(results).filter((name) => /^step-\d+-/.test(name));
  const bound = 2 + Math.ceil(Math.log2(images.length - 1));
  t.ok(steps.length <= bound, `${steps.length} boots for ${images.length} kernels (at most ${bound})`);
  const doc = JSON.parse(readFileSync(join(results, 'bisect.json'), 'utf8')) as { form: string; answer: { kind: string; firstBad: number; lastGood: number } };
  t.equal(doc.form, 'kernels');
  t.match(doc.answer, { kind: 'found', firstBad, lastGood: firstBad - 1 });
});
