// Benchmark: one run over two Debian kernels (the newest two 6.1 cloud packages), the default
// suites on each, with their guests side by side (--jobs 2) against one after the other
// (--jobs 1). Runs alternate so machine load hits both alike; the figure is the ratio of
// medians. Usage: node dist/bench/matrix-jobs.js [rounds]
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchingPackages } from '../kernels/debian.js';
import { projectRoot } from '../runner/core/paths.js';
import { median, row, timed } from './baseline.js';

const rounds = Number(process.argv[2] ?? 3);
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-jobs-'));
const kernels = (await matchingPackages('linux-image-6.1.0-*-cloud-amd64')).slice(-2).flatMap((p) => ['--kernel', `debian:${p}`]);

async function faultlineRun(jobs: number, name: string) {
  const run = await execa('node', [cli, 'run', ...kernels, '--jobs', String(jobs), '--results', join(work, name)], { env: { CI: 'true' }, reject: false });
  if (run.exitCode !== 0) throw new Error(`faultline run --jobs ${jobs} failed:\n${run.stdout}\n${run.stderr}`);
}

// Warm both kernels (download, helper, image, accel) before timing.
await faultlineRun(1, 'warm');
const times = { one: [] as number[], two: [] as number[] };
for (let i = 0; i < rounds; i++) {
  times.one.push(await timed(() => faultlineRun(1, `one-${i}`)));
  times.two.push(await timed(() => faultlineRun(2, `two-${i}`)));
}
rmSync(work, { recursive: true, force: true });

console.log(`two kernels (${kernels.filter((_, i) => i % 2).join(', ')}), the default suites on each, ${rounds} alternating rounds`);
console.log('| run | median | range |\n|---|---|---|');
console.log(row('faultline run --jobs 1', times.one));
console.log(row('faultline run --jobs 2', times.two));
console.log(`ratio --jobs 2 / --jobs 1: ${(median(times.two) / median(times.one)).toFixed(2)}`);
