// Benchmark: the default suites (every shipped case) against one trivial case, on the same
// kernel, both through `faultline run` with caches warm: what a whole suite costs beyond a boot.
// Runs alternate so machine load hits both alike; the figure is the ratio of medians (issue 19's
// target: at most 1.5). Extra words after `--` go to both runs (`-- --workers 1`, `-- --cpus 2`).
// `--serial` adds the default suites with `--workers 1` to every round, the same load hitting
// all three. Usage: node dist/bench/suite-ratio.js [rounds] [--serial] [-- run flags]
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../runner/core/paths.js';
import type { RunModel } from '../runner/model/types.js';
import { median, row, timed } from './baseline.js';

const dash = process.argv.indexOf('--');
const own = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash);
const extra = dash === -1 ? [] : process.argv.slice(dash + 1);
const serial = own.includes('--serial');
const rounds = Number(own.find((a) => /^\d+$/.test(a)) ?? 5);
const trivial = join(projectRoot, 'bench', 'trivial.yaml');
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-suite-ratio-'));

// Warm both (kernel, helper, image, accel probe) before timing.
await faultlineRun('warm-suites', []);
const warm = await faultlineRun('warm-trivial', ['--suite', trivial]);
const times = { suites: [] as number[], trivial: [] as number[], serial: [] as number[] };
let cases = 0;
const failures: string[] = [];
let guests = 0;
for (let i = 0; i < rounds; i++) {
  times.trivial.push(await timed(() => faultlineRun(`t${i}`, ['--suite', trivial])));
  times.suites.push(await timed(async () => {
    const doc = await faultlineRun(`s${i}`, []);
    cases = doc.results.length;
    guests = Math.max(guests, 1 + doc.restarts.length);
  }));
  if (serial) times.serial.push(await timed(() => faultlineRun(`w${i}`, ['--workers', '1'])));
}
rmSync(work, { recursive: true, force: true });

const k = warm.kernels[0]!;
console.log(`kernel ${k.id}, ${String(k.accel).toUpperCase()}, workers ${k.workers ?? 1}, ${rounds} alternating rounds${extra.length ? `, run flags: ${extra.join(' ')}` : ''}`);
console.log('| run | median | range |\n|---|---|---|');
console.log(row('faultline run, one trivial case', times.trivial));
console.log(row(`faultline run, default suites (${cases} cases${guests > 1 ? `, up to ${guests} guests` : ''})`, times.suites));
if (serial) console.log(row('faultline run, default suites, --workers 1', times.serial));
console.log(`ratio suites / trivial: ${(median(times.suites) / median(times.trivial)).toFixed(2)}`);
if (serial) console.log(`ratio suites --workers 1 / trivial: ${(median(times.serial) / median(times.trivial)).toFixed(2)}`);
console.log(failures.length ? `cases that did not pass:\n${failures.join('\n')}` : 'every case passed or skipped');

async function faultlineRun(name: string, args: string[]): Promise<RunModel> {
  const results = join(work, name);
  const run = await execa('node', [cli, 'run', ...args, ...extra, '--results', results], { env: { CI: 'true' }, reject: false });
  if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(`faultline run ${name} failed (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`);
  const doc = JSON.parse(readFileSync(join(results, 'run.json'), 'utf8')) as RunModel;
  // Cases may skip (huge pages, features); a case that did not pass is told, as it changes what was timed.
  for (const r of doc.results) if (r.status !== 'pass' && r.status !== 'skip') failures.push(`${name}: ${r.suite}/${r.case} ${r.status}: ${r.reason}`);
  return doc;
}
