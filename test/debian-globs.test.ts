import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fetchDebianKernel, resolveMetaPackage } from '../kernels/debian.js';
import { expandDebianGlob } from '../kernels/debian-glob.js';
import { rejectsExactly } from './fixtures/errors.js';

// `--kernel 'debian:linux-image-*'` against this machine's real apt lists. What is expected is
// read from apt here, never listed by hand: another machine's lists hold other packages.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-debian-globs-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const faultline = (args: string[], cache: string) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { CI: 'true', FAULTLINE_CACHE: cache } });

interface Apt {
  section: string;
  /** The linux-image package it depends on: a meta package's kernel. */
  image: string | null;
  size: number;
}

/** What apt-cache says of each name (nothing for a name with no candidate). */
async function aptSays(names: string[]): Promise<Map<string, Apt>> {
  const shown = await execa('apt-cache', ['show', '--no-all-versions', ...names]);
  const said = new Map<string, Apt>();
  for (const stanza of shown.stdout.split('\n\n')) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1];
    const pkg = field('Package');
    if (pkg) said.set(pkg, { section: field('Section') ?? '', image: /(?:^|, )(linux-image-[^ ,]+)/.exec(field('Depends') ?? '')?.[1] ?? null, size: Number(field('Size')) });
  }
  return said;
}

const allNames = async (prefix: string) => (await execa('apt-cache', ['pkgnames', prefix])).stdout.split('\n').filter(Boolean);
const gigabytes = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`);

// What this machine's apt lists hold decides which tests apply here.
const names = await allNames('linux-image-');
const kernels = (await expandDebianGlob('linux-image-*')).packages.length;
const fewKernels = kernels <= 9 ? `this machine's apt lists hold ${kernels} kernel images: too few to need --yes` : false;
const debugNames = names.filter((n) => n.endsWith('-dbg'));
const noDebug = debugNames.length < 2 ? 'this machine\'s apt lists hold no -dbg packages' : false;
const seriesMetas = names.filter((n) => /^linux-image-\d+\.\d+-[a-z]/.test(n) && !n.endsWith('-dbg') && !n.endsWith('-template'));

t.test('linux-image-* runs each installable kernel image once, and drops the rest with a reason', async (t) => {
  const apt = await aptSays([...names, ...names.map((n) => n.replace(/-unsigned$/, ''))]);
  const glob = await expandDebianGlob('linux-image-*');
  t.same([...glob.matched].sort(), [...names].sort(), 'every name apt lists is considered');
  const { debug, unsigned, meta, template, unavailable } = glob.dropped;
  t.comment(`${names.length} names: ${glob.packages.length} kernels to run; ${debug.length} debug, ${unsigned.length} unsigned, ${meta.length} meta, ${template.length} templates, ${unavailable.length} without a candidate`);

  for (const p of glob.packages) {
    const said = apt.get(p);
    t.ok(said && said.section !== 'debug' && said.image === null && !/-(dbg|template)$/.test(p), `${p} is a kernel image apt can download`);
    if (p.endsWith('-unsigned')) t.notOk(apt.has(p.replace(/-unsigned$/, '')), `${p} runs only as it has no signed twin`);
  }
  t.equal(new Set(glob.packages).size, glob.packages.length, 'no package twice');
  for (const name of names) {
    const said = apt.get(name);
    const lists = Object.entries(glob.dropped).filter(([, dropped]) => dropped.includes(name)).map(([kind]) => kind);
    const where = [...lists, ...(glob.packages.includes(name) ? ['run'] : [])];
    t.equal(where.length, 1, `${name}: run or dropped, once (${where.join(', ')})`);
    if (!said) t.same(lists, ['unavailable'], `${name} has no candidate`);
    else if (name.endsWith('-dbg') || said.section === 'debug') t.same(lists, ['debug'], `${name} is debug symbols`);
    else if (name.endsWith('-template')) t.same(lists, ['template'], `${name} is a signing template`);
    else if (said.image) {
      const kernel = said.image.replace(/-unsigned$/, '');
      if (kernel.endsWith('-dbg')) t.same(lists, ['debug'], `${name} is a meta package of debug symbols`);
      else t.ok(lists[0] === 'meta' && (glob.packages.includes(kernel) || glob.packages.includes(said.image)), `${name} is folded into ${said.image}`);
    } else if (name.endsWith('-unsigned') && apt.has(name.replace(/-unsigned$/, ''))) {
      t.ok(lists[0] === 'unsigned' && glob.packages.includes(name.replace(/-unsigned$/, '')), `${name} is folded into its signed twin`);
    } else t.same(where, ['run'], `${name} runs`);
  }
});

t.test('the run says what it dropped in one line, and asks for --yes before more than 8 downloads', { skip: fewKernels }, async (t) => {
  const cache = join(scratch, 'empty-cache');
  const glob = await expandDebianGlob('linux-image-*');
  const count = glob.packages.length;
  const sizes = await aptSays(glob.packages);
  const bytes = glob.packages.reduce((sum, p) => sum + (sizes.get(p)?.size ?? 0), 0);
  const run = await faultline(['run', '--kernel', 'debian:linux-image-*', '--case', 'no-such-case'], cache);
  t.equal(run.exitCode, 2);
  t.equal(run.stderr, `faultline: debian:linux-image-* would download ${count} kernel packages (${gigabytes(bytes)}) that are not in the cache; more than 8 need --yes\n  Add --yes to download them all, or narrow the pattern (e.g. debian:linux-image-6.1.0-*-cloud-amd64).`);
  const notes = run.stdout.split('\n').filter((l) => l.startsWith('note: debian:linux-image-*'));
  t.equal(notes[0], `note: debian:linux-image-* matches ${count} packages: ${glob.packages.join(', ')}`);
  const dropped = glob.matched.filter((n) => !glob.packages.includes(n)).length;
  t.match(notes[1], new RegExp(`^note: debian:linux-image-\\*: ${dropped} more matching packages are not run: `), 'one line says how many were dropped');
  t.equal(notes.length, 2, 'and no more');
  for (const [kind, words] of [['debug', 'debug symbol package'], ['unsigned', 'unsigned twin'], ['meta', 'meta package'], ['template', 'signing template']] as const) {
    const n = glob.dropped[kind].length;
    if (n > 0) t.match(notes[1], `${n} ${words}${n === 1 ? '' : 's'}`, `${n} ${kind}`);
  }
  t.notOk(existsSync(join(cache, 'kernels')), 'nothing was downloaded');

  const confirmed = await faultline(['run', '--kernel', 'debian:linux-image-*', '--yes', '--case', 'no-such-case'], cache);
  t.equal(confirmed.exitCode, 2);
  t.equal(confirmed.stderr, 'faultline: no case matches no-such-case\n  Run `faultline list` to see the case names.', 'with --yes the run goes on (to the next check)');
});

t.test('a package already in the cache is no download and does not count', { skip: fewKernels }, async (t) => {
  const cache = join(scratch, 'one-cached');
  const glob = await expandDebianGlob('linux-image-*');
  const sizes = await aptSays(glob.packages);
  const smallest = [...glob.packages].sort((a, b) => sizes.get(a)!.size - sizes.get(b)!.size)[0]!;
  await fetchDebianKernel(smallest, { cacheDir: cache });
  const bytes = glob.packages.filter((p) => p !== smallest).reduce((sum, p) => sum + sizes.get(p)!.size, 0);
  const run = await faultline(['run', '--kernel', 'debian:linux-image-*', '--case', 'no-such-case'], cache);
  t.equal(run.exitCode, 2);
  t.match(run.stderr, `faultline: debian:linux-image-* would download ${glob.packages.length - 1} kernel packages (${gigabytes(bytes)}) that are not in the cache; more than 8 need --yes`);
});

t.test('a glob matching no kernel image is refused, naming what it matched', { skip: noDebug }, async (t) => {
  const glob = 'linux-image-*-dbg';
  const debug = debugNames;
  const run = await faultline(['run', '--kernel', `debian:${glob}`], join(scratch, 'dbg-cache'));
  t.equal(run.exitCode, 3);
  t.equal(run.stderr, `faultline: debian:${glob}: no kernel image to run matches ${glob}: ${debug.length} debug symbol packages (-dbg: no kernel inside)\n  match the kernel images themselves, e.g. debian:linux-image-6.1.0-*-cloud-amd64`);
});

t.test('a -dbg package named outright is refused before it is downloaded', { skip: noDebug }, async (t) => {
  const name = debugNames.find((n) => /^linux-image-\d+\.\d+\.\d+\S*-dbg$/.test(n))!;
  const cache = join(scratch, 'named-dbg');
  await rejectsExactly(t, fetchDebianKernel(name, { cacheDir: cache }), {
    kind: 'kernel',
    where: `debian:${name}`,
    message: `package ${name} holds debug symbols, not a kernel`,
    hint: `name the kernel itself: debian:${name.slice(0, -'-dbg'.length)}`,
  });
  t.notOk(existsSync(cache) && readdirSync(cache).length > 0, 'nothing was downloaded');
});

t.test('a meta package named with its series (linux-image-6.12-amd64) resolves to its kernel', { skip: seriesMetas.length === 0 ? 'this machine\'s apt lists hold no such meta package' : false }, async (t) => {
  const apt = await aptSays(seriesMetas);
  const metas = seriesMetas.filter((n) => apt.get(n)?.image);
  t.ok(metas.length > 0, seriesMetas.join(', '));
  for (const name of metas) t.equal(await resolveMetaPackage(name), apt.get(name)!.image, name);
});
