// Benchmark: a bisect against testing every commit, over the bisect tests' history (fourteen
// commits on Debian's 6.1 tree, test/fixtures/bisect-history.ts) with the one case the breaking
// commit fails. Alternating rounds time
//   bisect: `faultline bisect --tree R --good BASE --bad TIP --case C` into a fresh directory
//   every:  `faultline run --tree R --patches BASE..Ck --case C` for each commit k, oldest first
// after a first pass of both that builds what they need, so the rounds compare boots, not builds
// (the first pass's builds are counted and timed on their own).
// Usage: node dist/bench/bisect.js [rounds] [retries]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, projectRoot } from '../runner/core/paths.js';
import { bisectHistory } from '../test/fixtures/bisect-history.js';
import { median, row, timed } from './baseline.js';

const rounds = Number(process.argv[2] ?? 3);
const retries = process.argv[3] ?? '1';
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-bisect-'));
const history = await bisectHistory(cacheDir());
const cases = ['--suite', join(projectRoot, 'suites', 'minor-faults.yaml'), '--case', 'minor-faults/continue-mapped-eexist-shmem'];

let runs = 0;
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: projectRoot, reject: false });
/** Kernel builds a command's output says it made (a kernel stage that was not cached). */
const builds = (stdout: string) => stdout.split('\n').filter((l) => /^\s*kernel .*\d+\.\ds +\S/.test(l) && !l.includes('(cached)')).length;

interface BisectDoc {
  steps: { statuses: Record<string, string>; reruns: unknown[] }[];
}

async function bisect(): Promise<{ builds: number; boots: number; steps: number }> {
  const dir = join(work, `bisect-${runs++}`);
  const run = await faultline(['bisect', '--tree', history.repo, '--good', history.base, '--bad', history.tip, ...cases, '--retries', retries, '--results', dir]);
  if (run.exitCode !== 0) throw new Error(`faultline bisect: exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`);
  const doc = JSON.parse(readFileSync(join(dir, 'bisect.json'), 'utf8')) as BisectDoc;
  // a step whose kernel did not build booted nothing
  const boots = doc.steps.reduce((n, s) => n + (Object.keys(s.statuses).length > 0 ? 1 : 0) + s.reruns.length, 0);
  return { builds: builds(run.stdout), boots, steps: doc.steps.length };
}

async function every(): Promise<{ builds: number; boots: number }> {
  let made = 0;
  let boots = 0;
  for (const commit of history.commits) {
    const run = await faultline(['run', '--tree', history.repo, '--patches', `${history.base}..${commit.hash}`, ...cases, '--results', join(work, `run-${runs++}`)]);
    made += builds(run.stdout);
    if (run.exitCode === 0 || run.exitCode === 1) boots++;
  }
  return { builds: made, boots };
}

const first = { bisect: 0, every: 0 };
const firstBisect = await timed(async () => (first.bisect = (await bisect()).builds));
const firstEvery = await timed(async () => (first.every = (await every()).builds));
const times = { bisect: [] as number[], every: [] as number[] };
let counts = { bisect: { builds: 0, boots: 0, steps: 0 }, every: { builds: 0, boots: 0 } };
for (let i = 0; i < rounds; i++) {
  times.bisect.push(await timed(async () => (counts.bisect = await bisect())));
  times.every.push(await timed(async () => (counts.every = await every())));
}
rmSync(work, { recursive: true, force: true });

const n = history.commits.length;
console.log(`${n} commits on linux-source-6.1 tinyconfig + faultline.config, one case, --retries ${retries}, ${rounds} rounds`);
console.log(`first pass: bisect ${(firstBisect / 1000).toFixed(1)} s with ${first.bisect} builds; every commit ${(firstEvery / 1000).toFixed(1)} s with ${first.every} builds`);
console.log('| run | median | range |\n|---|---|---|');
console.log(row(`bisect: ${counts.bisect.steps} steps, ${counts.bisect.boots} boots (builds cached)`, times.bisect));
console.log(row(`every commit: ${n} runs, ${counts.every.boots} boots (builds cached)`, times.every));
console.log(`bisect / every commit: ${(median(times.bisect) / median(times.every)).toFixed(2)}`);
