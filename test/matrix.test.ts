import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { matchingPackages } from '../kernels/debian.js';
import { caseKey } from '../runner/model/types.js';
import { assertRunValid } from './fixtures/run-schema.js';

// One run over several real kernels: two Debian 6.1 packages and a 6.12 one, side by side.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-matrix-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true' } });


t.test('a debian: glob names every matching package in the apt lists, oldest first', async (t) => {
  const found = await matchingPackages('linux-image-6.1.0-*-cloud-amd64');
  t.ok(found.length >= 2, found.join(', '));
  t.ok(found.every((p) => /^linux-image-6\.1\.0-\d+-cloud-amd64$/.test(p)));
  const numbers = found.map((p) => Number(/6\.1\.0-(\d+)-/.exec(p)![1]));
  t.same(numbers, [...numbers].sort((a, b) => a - b), 'by version, not by text (9 before 10)');
  const run = await faultline(['run', '--kernel', 'debian:linux-image-6.1.0-*-cloud-amd64', '--case', 'no-such-case']);
  t.equal(run.exitCode, 2);
  t.match(run.stdout, `note: debian:linux-image-6.1.0-*-cloud-amd64 matches ${found.length} packages: ${found.join(', ')}`, 'the run says which it found');
  const none = await faultline(['run', '--kernel', 'debian:linux-image-0.*-none']);
  t.equal(none.exitCode, 3);
  t.equal(none.stderr, 'faultline: debian:linux-image-0.*-none: no package in the apt lists matches linux-image-0.*-none\n  see what there is with: apt-cache pkgnames linux-image-0.');
});

t.test('two 6.1 packages and a 6.12 one: every case passes or skips with a reason, and the 6.4-only cases run on 6.12', async (t) => {
  const [older, newer] = (await matchingPackages('linux-image-6.1.0-*-cloud-amd64')).slice(-2);
  const latest = (await matchingPackages('linux-image-6.12.*+deb12-cloud-amd64')).at(-1)!;
  const dir = join(scratch, 'three');
  const run = await faultline(['run', '--kernel', `debian:${older}`, '--kernel', `debian:${newer}`, '--kernel', `debian:${latest}`, '--jobs', '2', '--expect', 'suites/expect/known-failures.yaml', '--results', dir]);
  if (!t.equal(run.exitCode, 0, 'exit 0')) t.comment(run.stdout + run.stderr);
  const doc = assertRunValid(t, dir);
  t.same(doc.kernels.map((k) => k.label), [older, newer, latest].map((p) => p!.slice('linux-image-'.length)));
  t.same(doc.kernels.map((k) => k.dir), ['kernel-0', 'kernel-1', 'kernel-2'], 'each kernel\'s files apart');
  t.equal(doc.results.length, 3 * doc.matrix.cases.length, 'every case on every kernel');
  for (const r of doc.results.filter((r) => !r.expected)) t.ok(r.status === 'pass' || (r.status === 'skip' && r.reason), `${r.kernel} ${caseKey(r)}: ${r.status} ${r.reason ?? ''}`);
  // The shipped known failure: 6.1 keeps the uffd-wp bit in a child without EVENT_FORK, 6.12 drops it.
  t.same(doc.kernels.map((k) => doc.results.find((r) => r.kernel === k.id && r.case === 'wp-fork-private-hugetlb')).map((r) => `${r?.status}${r?.expected ? '~' : ''}`), ['fail~', 'fail~', 'pass'], 'wp-fork-private-hugetlb: known on 6.1, passing on 6.12');
  const on612 = doc.results.filter((r) => r.kernel === doc.kernels[2]!.id);
  for (const name of ['continue-mode-wp-shmem', 'continue-mode-wp-hugetlb']) {
    t.equal(on612.find((r) => r.case === name)?.status, 'pass', `${name} runs on 6.12`);
    t.match(doc.results.find((r) => r.kernel === doc.kernels[0]!.id && r.case === name)?.reason, /^needs kernel 6\.4 or newer/, `${name} skips on 6.1`);
  }
  // The live-migration cases pass on every Debian kernel, the THP one included (its skip would hide it).
  const seed = ['replace-while-pending', 'many-faults-arrival-order', 'range-continue-wakes-all', 'range-copy-wakes-all'].flatMap((c) => [`${c}-shmem`, `${c}-hugetlb`]).concat('thp-continue-subpage-shmem');
  for (const k of doc.kernels) t.same(doc.results.filter((r) => r.kernel === k.id && seed.includes(r.case)).map((r) => r.status), seed.map(() => 'pass'), `the seed's workflow on ${k.label}`);
  t.match(run.stdout, /^faultline: \d+ cases on 3 kernels, 2 at a time$/m);
  t.match(run.stdout, new RegExp(`^ {2}ok {6}${latest.slice('linux-image-'.length).replace(/[.+]/g, '\\$&')} {2}minor-faults/continue-mode-wp-shmem `, 'm'), 'each line names its kernel');
  t.match(run.stdout, /^cases x kernels \(what did not pass somewhere; ~ known\):\n {2}case +#1 +#2 +#3 *\n {2}fork-events\/wp-fork-private-hugetlb +FAIL~ +FAIL~ +ok *\n(?: {2}.*\n)*? {2}minor-faults\/continue-mode-wp-shmem +skip +skip +ok/m, 'the table ends the run');
  t.match(readFileSync(join(dir, 'results.tap'), 'utf8'), new RegExp(`^# Subtest: ${newer!.slice('linux-image-'.length)} minor-faults$`, 'm'));
});
