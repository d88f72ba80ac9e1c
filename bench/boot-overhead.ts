// Benchmark: the wall time of `faultline run` with one trivial case on the Debian kernel,
// against a raw qemu-system-x86_64 boot of the same kernel whose hand-written init runs the
// same helper on the same plan. Runs alternate so machine load hits both alike; the figure
// is the ratio of medians. Usage: node dist/bench/boot-overhead.js [rounds]
import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultKernelSpec } from '../kernels/default.js';
import { resolveKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { buildHelper } from '../runner/helper/build.js';
import { cacheDir, projectRoot } from '../runner/paths.js';
import { compileSuites } from '../runner/suite/compile.js';
import { loadSuite } from '../runner/suite/load.js';

const rounds = Number(process.argv[2] ?? 7);
const suite = join(projectRoot, 'bench', 'trivial.yaml');
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-'));

const spec = await defaultKernelSpec();
const kernel = await resolveKernel(parseKernelSpec(spec), { cacheDir: cacheDir() });
const helper = await buildHelper({ headersDir: kernel.headersDir, cacheDir: cacheDir() });
const initrd = await handWrittenInitrd(helper.path, compileSuites([await loadSuite(suite)]));
const raw = ['-M', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '512', '-nodefaults', '-display', 'none', '-no-reboot',
  '-kernel', kernel.image!, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1', '-serial', 'stdio'];

// Warm both paths once (kernel download, helper and image builds, accel probe) before timing.
await faultlineRun('warm');
const cached = await faultlineRun('cached');
const rebuilt = ['kernel', 'helper', 'image', 'accel'].filter((stage) => !new RegExp(`^${stage} .*\\(cached\\)`, 'm').test(cached.stdout));

const times = { raw: [] as number[], faultline: [] as number[] };
for (let i = 0; i < rounds; i++) {
  times.raw.push(await timed(async () => {
    const boot = await execa('qemu-system-x86_64', raw, { timeout: 120_000 });
    if (!/^ok 1 - open-uffd/m.test(boot.stdout.replace(/^ {4}/gm, ''))) throw new Error('raw boot did not run the case');
  }));
  times.faultline.push(await timed(async () => void (await faultlineRun(`r${i}`))));
}
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const row = (name: string, xs: number[]) => `| ${name} | ${(median(xs) / 1000).toFixed(2)} s | ${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)} s |`;
console.log(`kernel ${kernel.id}, TCG, ${rounds} alternating rounds`);
console.log('| run | median | range |\n|---|---|---|');
console.log(row('raw qemu-system-x86_64 + hand-written init', times.raw));
console.log(row('faultline run (cached)', times.faultline));
console.log(`ratio faultline / raw: ${(median(times.faultline) / median(times.raw)).toFixed(2)}`);
console.log(`cached run rebuilt: ${rebuilt.length ? rebuilt.join(', ') : 'nothing'}`);

async function faultlineRun(name: string) {
  const run = await execa('node', [cli, 'run', '--suite', suite, '--results', join(work, name)], { env: { CI: 'true' } });
  if (!/1 passed, 0 failed/.test(run.stdout)) throw new Error(`faultline run did not pass:\n${run.stdout}`);
  return run;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** What a person would write by hand: busybox, the helper, the plan, a six-line init. */
async function handWrittenInitrd(helperPath: string, plan: string): Promise<string> {
  const root = join(work, 'root');
  for (const dir of ['bin', 'proc', 'dev', 'sys']) mkdirSync(join(root, dir), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  copyFileSync(helperPath, join(root, 'helper'));
  writeFileSync(join(root, 'plan'), plan);
  writeFileSync(join(root, 'init'), '#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox mount -t devtmpfs dev /dev\n/helper run /plan\n/bin/busybox reboot -f\n');
  chmodSync(join(root, 'init'), 0o755);
  const out = join(work, 'raw.cpio.gz');
  await execa('sh', ['-c', `find . | cpio -o -H newc --quiet | gzip -1 > ${out}`], { cwd: root });
  return out;
}
