// Benchmark: the edit-build-test loop of a patch author. Each round changes one line of
// mm/userfaultfd.c through a new patch and times
//   faultline: `faultline run --tree T --patches P --suite bench/trivial.yaml`
//   bare:      git apply P in a private copy of T, `make -j2 bzImage` there (incremental), and a raw
//              qemu-system-x86_64 boot with a hand-written init running the same helper and plan;
// then a cached rerun of the same faultline command against a raw boot of the prebuilt kernel.
// The bare side's own copy and object tree are built once, under the cache, before timing.
// Usage: node dist/bench/edit-build-test.js [rounds]
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedFragment } from '../kernels/resolve.js';
import { buildHelper } from '../runner/helper/build.js';
import { cacheDir, projectRoot } from '../runner/core/paths.js';
import { compileSuites } from '../runner/suite/compile.js';
import { loadSuite } from '../runner/suite/load.js';
import { linuxTree } from '../test/fixtures/linux-tree.js';
import { handWrittenInitrd, median, rawBoot, row, runAccel, timed } from './baseline.js';

const rounds = Number(process.argv[2] ?? 3);
// The same -j faultline's build uses, so both sides get the same parallelism.
const jobs = String(availableParallelism());
const suite = join(projectRoot, 'bench', 'trivial.yaml');
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-loop-'));
const tree = await linuxTree(cacheDir());
const bare = join(cacheDir(), 'bench', 'bare-6.1');

await prepareBare();
const helper = await buildHelper({ headersDir: null, cacheDir: cacheDir() });
const initrd = await handWrittenInitrd(work, helper.path, compileSuites([await loadSuite(suite)]));
const bareImage = join(bare, 'obj', 'arch', 'x86', 'boot', 'bzImage');
const accel = await runAccel(bareImage);

const times = { bare: [] as number[], faultline: [] as number[], cached: [] as number[], boot: [] as number[] };
for (let i = 0; i < rounds; i++) {
  const patch = commentPatch(`${process.pid}-${i}`);
  times.bare.push(await timed(async () => {
    await execa('git', ['apply', patch], { cwd: join(bare, 'src') });
    await execa('make', ['-C', join(bare, 'src'), `O=${join(bare, 'obj')}`, `-j${jobs}`, 'bzImage']);
    await rawBoot(bareImage, initrd, accel);
  }));
  await execa('git', ['apply', '-R', patch], { cwd: join(bare, 'src') });
  times.faultline.push(await timed(() => faultlineRun(patch, `r${i}`)));
  times.cached.push(await timed(() => faultlineRun(patch, `c${i}`)));
  times.boot.push(await timed(() => rawBoot(bareImage, initrd, accel)));
}
rmSync(work, { recursive: true, force: true });

console.log(`linux-source-6.1 tinyconfig + faultline.config, ${accel.toUpperCase()}, -j${jobs}, ${rounds} rounds`);
console.log('| run | median | range |\n|---|---|---|');
console.log(row('bare: git apply + make bzImage (incremental) + raw boot', times.bare));
console.log(row('faultline run --tree --patches (one changed line)', times.faultline));
console.log(row('faultline run, same patch again (cached)', times.cached));
console.log(row('raw boot of the prebuilt kernel', times.boot));
console.log(`edit-build-test ratio faultline / bare: ${(median(times.faultline) / median(times.bare)).toFixed(2)}`);
console.log(`cached rerun / raw boot: ${(median(times.cached) / median(times.boot)).toFixed(2)}`);

async function faultlineRun(patch: string, name: string): Promise<void> {
  const run = await execa('node', [cli, 'run', '--tree', tree, '--patches', patch, '--suite', suite, '--results', join(work, name)], { env: { CI: 'true' } });
  if (!/1 passed, 0 failed/.test(run.stdout)) throw new Error(`faultline run did not pass:\n${run.stdout}`);
}

/** The bare side: a private copy of the tree and an object dir configured like faultline's. */
async function prepareBare(): Promise<void> {
  if (existsSync(join(bare, 'obj', 'arch', 'x86', 'boot', 'bzImage'))) return;
  mkdirSync(bare, { recursive: true });
  rmSync(join(bare, 'src'), { recursive: true, force: true });
  await execa('cp', ['-a', tree, join(bare, 'src')]);
  const obj = join(bare, 'obj');
  await execa('make', ['-C', join(bare, 'src'), `O=${obj}`, 'tinyconfig']);
  writeFileSync(join(obj, '.config'), readFileSync(join(obj, '.config'), 'utf8') + readFileSync(shippedFragment, 'utf8'));
  await execa('make', ['-C', join(bare, 'src'), `O=${obj}`, 'olddefconfig']);
  await execa('make', ['-C', join(bare, 'src'), `O=${obj}`, `-j${jobs}`, 'bzImage']);
}

/** One changed line in mm/userfaultfd.c: a comment after its first #include. */
function commentPatch(tag: string): string {
  const lines = readFileSync(join(tree, 'mm', 'userfaultfd.c'), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith('#include'));
  const body = ['--- a/mm/userfaultfd.c', '+++ b/mm/userfaultfd.c', `@@ -${at + 1},2 +${at + 1},3 @@`, ` ${lines[at]}`, `+/* edit ${tag} */`, ` ${lines[at + 1]}`, ''].join('\n');
  const file = join(work, `edit-${tag}.patch`);
  writeFileSync(file, body);
  return file;
}
