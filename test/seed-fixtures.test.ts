import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cacheDir } from '../runner/core/paths.js';
import { linuxSourceMissing, linuxTree } from './fixtures/linux-tree.js';
import { assertRunValid } from './fixtures/run-schema.js';

// The live-migration cases of suites/minor-faults.yaml against kernels that get them wrong: each
// fixture patch in test/fixtures/patches/ is built into the 6.1 tree's kernel and must fail
// exactly the cases it was written against (and the unpatched kernel must pass them all).
if (linuxSourceMissing) t.plan(0, linuxSourceMissing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-seed-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const tree = linuxSourceMissing ? '' : await linuxTree(cacheDir());
const patches = join(root, 'test', 'fixtures', 'patches');
const patchOf = (dir: string) => join(patches, dir, readdirSync(join(patches, dir)).find((f) => f.endsWith('.patch'))!);
const seed = ['replace-while-pending', 'many-faults-arrival-order', 'range-continue-wakes-all', 'range-copy-wakes-all', 'thp-continue-subpage'];


async function run(name: string, patch: string | null) {
  const dir = join(scratch, name);
  const args = ['run', '--tree', tree, ...(patch ? ['--patches', patchOf(patch)] : []), '--suite', 'suites/minor-faults.yaml', ...seed.flatMap((c) => ['--case', c]), '--results', dir];
  const result = await execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });
  const doc = assertRunValid(t, dir);
  const failing = Object.fromEntries(doc.results.filter((r) => r.status !== 'pass').map((r) => [r.case, `${r.status}: ${r.reason}`]));
  return { result, doc, failing };
}

t.test('the unpatched tree passes every one, the shmem THP case on a real huge page', async (t) => {
  const { result, doc, failing } = await run('base', null);
  t.equal(result.exitCode, 0, result.stdout + result.stderr);
  t.same(failing, {});
  t.equal(doc.results.length, 9);
});

const fixtures: { patch: string; fails: Record<string, RegExp> }[] = [
  {
    patch: 'blocks-no-minor-read',
    fails: Object.fromEntries(['replace-while-pending-shmem', 'range-continue-wakes-all-shmem', 'thp-continue-subpage-shmem'].map((c) => [c, /^fail: line \d+: event: expected PAGEFAULT, none within \d+ms$/]).concat([['many-faults-arrival-order-shmem', /^fail: line \d+: join t3: expected blocked, but it finished within 200ms$/]])),
  },
  { patch: 'lifo-faults', fails: Object.fromEntries(['shmem', 'hugetlb'].map((m) => [`many-faults-arrival-order-${m}`, /^fail: line \d+: event: expected PAGEFAULT at page 3, got PAGEFAULT flags=MINOR at page 2$/])) },
  {
    patch: 'wakes-first-page',
    fails: Object.fromEntries(['continue', 'copy'].flatMap((op) => ['shmem', 'hugetlb'].map((m) => [`range-${op}-wakes-all-${m}`, /^fail: line \d+: join t1: expected done, still blocked after \d+ms$/]))),
  },
  { patch: 'thp-head-page', fails: { 'thp-continue-subpage-shmem': /^fail: line \d+: join t1: expected every byte 0x75, found 0x71 at page 5 offset 0$/ } },
];

for (const fixture of fixtures) {
  t.test(`${fixture.patch}: fails exactly ${Object.keys(fixture.fails).join(', ')}`, async (t) => {
    const { result, failing } = await run(fixture.patch, fixture.patch);
    t.equal(result.exitCode, 1, result.stdout + result.stderr);
    t.same(Object.keys(failing).sort(), Object.keys(fixture.fails).sort());
    for (const [name, reason] of Object.entries(fixture.fails)) t.match(failing[name], reason, name);
  });
}
