import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { kernelSpecFromFlags } from '../runner/commands/kernel-flags.js';
import { parseKernelSpec } from '../kernels/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'faultline-flags-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('--tree with patches, a range containing a slash, fragments and a base file', async (t) => {
  const spec = await kernelSpecFromFlags({ tree: dir, patches: ['origin/master..HEAD', 'v6.1..v6.2', 'series/'], config: ['debug.config'], base: 'my.config' });
  t.same(spec, {
    kind: 'source',
    tree: dir,
    patches: ['origin/master..HEAD', 'v6.1..v6.2', join(process.cwd(), 'series')],
    base: join(process.cwd(), 'my.config'),
    fragments: [join(process.cwd(), 'debug.config')],
  });
});

t.test('contradictions are usage errors before anything is built', async (t) => {
  await t.rejects(kernelSpecFromFlags({ tree: dir, kernel: 'host', patches: [], config: [] }), { kind: 'usage', message: '--tree and --kernel name two different kernels' });
  await t.rejects(kernelSpecFromFlags({ kernel: 'host', patches: ['a.patch'], config: [] }), { kind: 'usage', message: '--patches, --config and --base apply to a source tree' });
});

t.test('a kernel definition file: paths relative to it, ~ is home, ranges kept', async (t) => {
  const file = join(dir, 'series.yaml');
  writeFileSync(file, 'tree: ~/src/linux\npatches: [../v3.mbox, origin/main..HEAD]\nbase: defconfig\nconfig: [debug.config]\n');
  t.same(parseKernelSpec(file), {
    kind: 'source',
    tree: join(homedir(), 'src', 'linux'),
    patches: [join(dir, '..', 'v3.mbox'), 'origin/main..HEAD'],
    base: 'defconfig',
    fragments: [join(dir, 'debug.config')],
    definition: file,
  });
});

t.test("a definition's images: a Dockerfile directory beside it, an engine image or a recipe as written", async (t) => {
  const file = join(dir, 'imaged.yaml');
  writeFileSync(file, 'tree: /src/linux\nimage: docker:./guest\nbuild-image: debian-build\n');
  t.match(parseKernelSpec(file), { image: `docker:${join(dir, 'guest')}`, buildImage: 'debian-build' });
  writeFileSync(file, 'tree: /src/linux\nimage: docker:faultline/debian\nbuild-image: docker:../ctx\n');
  t.match(parseKernelSpec(file), { image: 'docker:faultline/debian', buildImage: `docker:${join(dir, '..', 'ctx')}` });
});

t.test('a bad kernel definition names file:line:column and the key', async (t) => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'tree: ~/src/linux\npatchs: [a.patch]\n');
  t.throws(() => parseKernelSpec(file), { kind: 'suite', message: `${file} has an error:\n  ${file}:2:1: patchs: unknown key "patchs" (allowed: description, tree, patches, base, config, image, build-image)` });
});
