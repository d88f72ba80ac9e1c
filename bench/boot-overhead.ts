// Benchmark: the wall time of `faultline run` with one trivial case on the Debian kernel,
// against a raw qemu-system-x86_64 boot of the same kernel whose hand-written init runs the
// same helper on the same plan. Runs alternate so machine load hits both alike; the figure
// is the ratio of medians. Usage: node dist/bench/boot-overhead.js [rounds]
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultKernelSpec } from '../kernels/default.js';
import { resolveKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { buildHelper } from '../runner/helper/build.js';
import { cacheDir, projectRoot } from '../runner/core/paths.js';
import { compileSuites } from '../runner/suite/compile.js';
import { loadSuite } from '../runner/suite/load.js';
import { kvmDeviceProblem } from '../runner/qemu/accel.js';
import { handWrittenInitrd, median, microvmFloor, rawBoot, row, runAccel, timed } from './baseline.js';

const rounds = Number(process.argv[2] ?? 7);
const suite = join(projectRoot, 'bench', 'trivial.yaml');
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-'));

const spec = await defaultKernelSpec();
const kernel = await resolveKernel(parseKernelSpec(spec), { cacheDir: cacheDir() });
const helper = await buildHelper({ headersDir: kernel.headersDir, cacheDir: cacheDir() });
const initrd = await handWrittenInitrd(work, helper.path, compileSuites([await loadSuite(suite)]));
const accel = await runAccel(kernel.image!);
const floor = await microvmFloor(work, kernel.image!, accel);

// Warm both paths once (kernel download, helper and image builds, accel probe) before timing.
await faultlineRun('warm');
const cached = await faultlineRun('cached');
// Only a probe's verdict is cached: on a host with no usable /dev/kvm there is nothing to keep.
const cachedStages = ['kernel', 'helper', 'image', ...((await kvmDeviceProblem()) ? [] : ['accel'])];
const rebuilt = cachedStages.filter((stage) => !new RegExp(`^${stage} .*\\(cached\\)`, 'm').test(cached.stdout));

const times = { raw: [] as number[], faultline: [] as number[], microvm: [] as number[] };
for (let i = 0; i < rounds; i++) {
  times.raw.push(await timed(() => rawBoot(kernel.image!, initrd, accel)));
  times.faultline.push(await timed(() => faultlineRun(`r${i}`)));
  times.microvm.push(await timed(floor));
}
rmSync(work, { recursive: true, force: true });

console.log(`kernel ${kernel.id}, ${accel.toUpperCase()}, ${rounds} alternating rounds`);
console.log('| run | median | range |\n|---|---|---|');
console.log(row('raw qemu-system-x86_64 + hand-written init', times.raw));
console.log(row('faultline run (cached)', times.faultline));
console.log(row('raw qemu-system-x86_64 -M microvm + init that only reboots (the floor)', times.microvm));
console.log(`ratio faultline / raw: ${(median(times.faultline) / median(times.raw)).toFixed(2)}`);
console.log(`ratio faultline / raw microvm floor: ${(median(times.faultline) / median(times.microvm)).toFixed(2)}`);
console.log(`cached run rebuilt: ${rebuilt.length ? rebuilt.join(', ') : 'nothing'}`);

async function faultlineRun(name: string) {
  const run = await execa('node', [cli, 'run', '--suite', suite, '--results', join(work, name)], { env: { CI: 'true' } });
  if (!/1 passed, 0 failed/.test(run.stdout)) throw new Error(`faultline run did not pass:\n${run.stdout}`);
  return run;
}
