// Benchmark: what faultline adds on the host around one boot (issue 19, host overhead). In
// alternating rounds it times
//   cached:  `faultline run --tree linux-source-6.1 --suite bench/trivial.yaml` (tinyconfig,
//            built before timing, so every round proves the tree unchanged and reuses the kernel);
//   floor:   a raw `-M microvm` boot of the same bzImage to an init that only reboots;
//   help:    `faultline --help`;  list: `faultline list`.
// and prints the medians and the ratio cached / floor. Given a second cli.js (another checkout's
// dist/runner/cli.js), it times that one's cached run, --help and list in the same rounds.
// Usage: node dist/bench/host-overhead.js [rounds] [other-cli.js]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, projectRoot } from '../runner/core/paths.js';
import { linuxTree } from '../test/fixtures/linux-tree.js';
import { median, microvmFloor, row, runAccel, timed } from './baseline.js';

const rounds = Number(process.argv[2] ?? 5);
const other = process.argv[3];
const suite = join(projectRoot, 'bench', 'trivial.yaml');
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-overhead-'));
const tree = await linuxTree(cacheDir());

const image = await builtImage(cli);
const accel = await runAccel(image);
const floor = await microvmFloor(work, image, accel);
const clis = { this: cli, ...(other ? { other } : {}) };
// one unmeasured round of each, so both sides start with the caches and the page cache warm
await cachedRun(cli, 'warm');
if (other) await cachedRun(other, 'warm-other');
await floor();

const times: Record<string, number[]> = {};
const add = (name: string, ms: number) => (times[name] ??= []).push(ms);
for (let i = 0; i < rounds; i++) {
  add('floor', await timed(floor));
  for (const [name, path] of Object.entries(clis)) {
    add(`cached ${name}`, await timed(() => cachedRun(path, `${name}-${i}`)));
    add(`help ${name}`, await timed(() => execa('node', [path, '--help'])));
    add(`list ${name}`, await timed(() => execa('node', [path, 'list'])));
  }
}
rmSync(work, { recursive: true, force: true });

console.log(`linux-source-6.1 tinyconfig + faultline.config, ${accel.toUpperCase()}, ${rounds} alternating rounds`);
console.log('| step | median | range |\n|---|---|---|');
console.log(row('raw -M microvm boot of the same bzImage, init only reboots', times.floor!));
for (const name of Object.keys(clis)) {
  const label = name === 'this' ? '' : ` (${other})`;
  console.log(row(`faultline run --tree, cached rerun, one trivial case${label}`, times[`cached ${name}`]!));
  console.log(row(`faultline --help${label}`, times[`help ${name}`]!));
  console.log(row(`faultline list${label}`, times[`list ${name}`]!));
}
for (const name of Object.keys(clis)) {
  console.log(`cached rerun / microvm floor${name === 'this' ? '' : ` (${other})`}: ${(median(times[`cached ${name}`]!) / median(times.floor!)).toFixed(2)}`);
}

/** The tree's kernel, built (or found in the cache) the way a run builds it; its bzImage path. */
async function builtImage(path: string): Promise<string> {
  const build = await execa('node', [path, 'build', '--tree', tree]);
  const image = build.stdout.trim().split('\n').pop() ?? '';
  if (!image.endsWith('bzImage')) throw new Error(`faultline build printed no bzImage:\n${build.stdout}`);
  return image;
}

async function cachedRun(path: string, name: string): Promise<void> {
  const run = await execa('node', [path, 'run', '--tree', tree, '--suite', suite, '--results', join(work, name)], { env: { CI: 'true' }, reject: false });
  if (!/1 passed, 0 failed/.test(run.stdout)) throw new Error(`faultline run did not pass:\n${run.stdout}\n${run.stderr}`);
}
