import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { extract, pack } from 'tar-stream';
import { exportRootfs } from '../images/docker/export.js';
import { parseImageName, type ResolvedGuestImage } from '../images/guest-image.js';
import { buildRecipeImage } from '../images/recipes/index.js';
import { connectEngine, type Engine } from '../runner/core/engine/engine.js';
import { inspectImage } from '../runner/core/engine/images.js';
import { OWNER_LABEL } from '../runner/core/engine/owner.js';
import { FaultlineError } from '../runner/core/errors.js';
import { cacheDir } from '../runner/core/paths.js';
import { guestRootfs } from '../runner/guest/userland.js';
import { defaultGuestConfig } from '../runner/qemu/guest-config.js';
import type { RunModel } from '../runner/model/types.js';
import { dockerdMissing, startDockerd, type PrivateDockerd } from './fixtures/dockerd.js';
import { fileType, readCpio, type ReadMember } from './fixtures/guest/read-cpio.js';
import { assertRunValid } from './fixtures/run-schema.js';

// Guests whose root is a Docker image, against a dockerd of the test's own and real QEMU: the
// export's placeholders read back from the archive, a rerun that makes no container, the
// busybox image built through dockerode giving the built-in image's results, a Debian userland
// running a suite, and the failures: an image without /bin/sh, and a SIGKILL mid-export whose
// container the next run removes. Four guests boot; the kernel and the Debian recipe come
// from faultline's own cache, as a run's do.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-guest-image-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const recipe = { cacheDir: cacheDir() };
const coin = join(root, 'test', 'fixtures', 'suites', 'coin-heads.yaml');

const faultline = (args: string[], env: NodeJS.ProcessEnv) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { ...env, CI: 'true' } });

t.test('image names: busybox, docker:DIR, docker:IMAGE, a recipe; anything else is a usage error', async (t) => {
  t.same(parseImageName('busybox'), { kind: 'busybox' });
  t.same(parseImageName('docker:faultline/debian'), { kind: 'engine-image', name: 'faultline/debian' });
  t.match(parseImageName('docker:./images/recipes/busybox'), { kind: 'dockerfile', dir: join(process.cwd(), 'images', 'recipes', 'busybox') });
  t.same(parseImageName('debian'), { kind: 'recipe', recipe: 'debian' });
  t.same(parseImageName('recipe:busybox'), { kind: 'recipe', recipe: 'busybox' });
  for (const bad of ['ubuntu', 'docker:', 'docker:no spaces']) {
    const error = (() => {
      try {
        parseImageName(bad);
        return null;
      } catch (e) {
        return e as FaultlineError;
      }
    })();
    t.ok(error instanceof FaultlineError, bad);
    t.equal(error?.exitCode, 2, bad);
    t.match(error?.hint, /^Give busybox \(the built-in image, the default\) or docker:DIR/, bad);
  }
  const usage = await faultline(['run', '--image', 'ubuntu'], process.env);
  t.equal(usage.exitCode, 2, usage.stderr);
  t.match(usage.stderr, /--image "ubuntu": it is not an image faultline knows/);
});

t.test('a guest grows by its userland, and one the host cannot give is refused saying how much', async (t) => {
  const MiB = 1024 * 1024;
  const image = (bytes: number, unpackedBytes: number): ResolvedGuestImage => ({
    kind: 'engine',
    engine: { docker: null as never, where: 'unix:///nowhere' },
    image: { name: 'docker:big', id: `sha256:${'0'.repeat(64)}`, contentKey: 'k', size: unpackedBytes },
    bash: true,
    rootfs: { path: '/cache/rootfs.cpio', cached: true, summary: { bytes, unpackedBytes, members: 1, shell: true, bash: true } },
  });
  t.equal(guestRootfs('busybox', { kind: 'busybox' }, defaultGuestConfig), null, 'the built-in image changes nothing');
  t.same(guestRootfs('debian', image(460 * MiB, 480 * MiB), defaultGuestConfig), { path: '/cache/rootfs.cpio', memoryMiB: 940 });
  const huge = Math.ceil(totalmem() / MiB) * 2;
  t.throws(() => guestRootfs('docker:big', image(huge * MiB, huge * MiB), defaultGuestConfig), {
    name: 'FaultlineError',
    kind: 'image',
    message: new RegExp(`^the guest's memory must be ${512 + 2 * Math.ceil(huge)} MiB to boot the image docker:big: 512 MiB for the guest, ${Math.ceil(huge)} MiB for the image's initramfs and ${Math.ceil(huge)} MiB for its files unpacked, which the kernel holds at once; this host gives a guest at most \\d+ MiB`),
  });
});

/** Each run's per-case statuses, by suite/case. */
function statuses(doc: RunModel): Record<string, string> {
  return Object.fromEntries(doc.results.map((r) => [`${r.suite}/${r.case}`, r.status]));
}

const missing = dockerdMissing();
if (missing) {
  t.test('guests of engine images', { skip: missing }, async () => undefined);
} else {
  let dockerd: PrivateDockerd;
  let engine: Engine;
  t.before(async () => {
    dockerd = await startDockerd(t);
    engine = await connectEngine(dockerd.env);
  });
  const faultlineContainers = () => engine.docker.listContainers({ all: true, filters: JSON.stringify({ label: [OWNER_LABEL] }) });
  /** How many containers of faultline's the engine created in [since, now]. */
  const createdSince = async (since: number): Promise<number> => {
    const stream = (await engine.docker.getEvents({ since, until: Math.ceil(Date.now() / 1000), filters: JSON.stringify({ type: ['container'], event: ['create'], label: [OWNER_LABEL] }) })) as NodeJS.ReadableStream;
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    return text.split('\n').filter((l) => l.trim()).length;
  };

  t.test('the export drops and replaces Docker\'s placeholders; a rerun makes no container', async (t) => {
    const busybox = await buildRecipeImage(engine, 'busybox', recipe);
    // What `docker export` itself gives, so the test sees the placeholders it handles.
    const container = await engine.docker.createContainer({ Image: busybox.id, Cmd: ['/bin/sh'] });
    const raw = new Map<string, { type: string; size: number }>();
    const tar = extract();
    (await container.export()).pipe(tar);
    for await (const entry of tar) {
      raw.set(entry.header.name.replace(/\/$/, ''), { type: String(entry.header.type), size: entry.header.size ?? 0 });
      entry.resume();
    }
    await container.remove({ force: true });
    t.match(Object.fromEntries(raw), { '.dockerenv': {}, 'etc/hostname': { size: 0 }, 'etc/hosts': { size: 0 }, 'etc/resolv.conf': { size: 0 }, 'dev/console': { type: 'file', size: 0 }, 'dev/pts': { type: 'directory' }, 'dev/shm': { type: 'directory' } });

    const cache = mkdtempSync(join(scratch, 'cache-'));
    const since = Math.floor(Date.now() / 1000);
    const first = await exportRootfs(engine, busybox, { cacheDir: cache });
    t.equal(first.cached, false);
    t.equal(await createdSince(since), 1, 'one container for the export');
    t.same(await faultlineContainers(), [], 'and it was removed');
    const members = new Map(readCpio(readFileSync(first.path)).map((m) => [m.path, m] as const));
    const text = (path: string) => members.get(path)?.data.toString();
    t.notOk(members.has('.dockerenv'));
    t.equal(text('etc/hostname'), 'faultline\n');
    t.match(text('etc/hosts'), /^127\.0\.0\.1\tlocalhost$/m);
    t.match(text('etc/resolv.conf'), /no network/);
    t.same([...members.keys()].filter((p) => p.startsWith('dev/')), [], 'nothing under dev/: devtmpfs and faultline\'s layer (dev/console 5:1) provide it');
    t.equal(fileType(members.get('bin/busybox')!), 'file');
    t.equal(members.get('bin/busybox')!.mode & 0o777, 0o755);
    t.match(members.get('bin/sh'), { data: Buffer.from('busybox') });
    t.equal(fileType(members.get('bin/sh')!), 'symlink');
    t.equal(members.get('tmp')!.mode & 0o7777, 0o1777);
    t.match(first.summary, { shell: true, bash: false, bytes: statSync(first.path).size });

    const again = Math.floor(Date.now() / 1000) + 1;
    await new Promise((r) => setTimeout(r, 1100));
    const second = await exportRootfs(engine, busybox, { cacheDir: cache });
    t.equal(second.cached, true);
    t.equal(second.path, first.path);
    t.equal(await createdSince(again), 0, 'a rerun exports nothing: no container is created');
  });

  t.test('the busybox image built through dockerode runs the default suites as the built-in one does', async (t) => {
    const runs: Record<string, { doc: RunModel; exitCode: number | undefined; ms: number }> = {};
    for (const image of ['busybox', 'recipe:busybox']) {
      const results = join(scratch, `default-${image.replace(':', '-')}`);
      // The built-in image contacts no engine: DOCKER_HOST names none that answers.
      const env = image === 'busybox' ? { ...process.env, DOCKER_HOST: `unix://${join(scratch, 'absent.sock')}` } : dockerd.env;
      const started = performance.now();
      // As `npm start` runs them: with the shipped known failures (6.1's wp-fork-private-hugetlb).
      const run = await faultline(['run', '--image', image, '--expect', 'suites/expect/known-failures.yaml', '--results', results], env);
      const ms = performance.now() - started;
      t.comment(`--image ${image}: ${(ms / 1000).toFixed(1)} s`);
      runs[image] = { doc: assertRunValid(t, join(results, 'run.json')), exitCode: run.exitCode, ms };
      if (run.exitCode !== 0) t.comment(run.stdout.slice(-3000) + run.stderr);
      t.equal(run.exitCode, 0, `--image ${image} passes`);
    }
    const builtIn = runs.busybox!.doc;
    const engineBuilt = runs['recipe:busybox']!.doc;
    t.ok(builtIn.results.length > 10, `${builtIn.results.length} cases`);
    t.same(statuses(engineBuilt), statuses(builtIn));
    t.match(builtIn.kernels[0]!.guestImage, { name: 'busybox', id: null, contentKey: /^[0-9a-f]{24}$/ });
    t.match(engineBuilt.kernels[0]!.guestImage, { name: 'recipe:busybox', id: /^sha256:[0-9a-f]{64}$/, contentKey: (await inspectImage(engine, 'faultline/busybox')).contentKey });
  });

  t.test('a Debian userland (glibc, dash, bash, util-linux) boots and the agent runs a suite there', async (t) => {
    const started = performance.now();
    await buildRecipeImage(engine, 'debian', { ...recipe, onProgress: () => undefined });
    t.comment(`the debian recipe's image: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const results = join(scratch, 'debian');
    const run = await faultline(['run', '--image', 'debian', '--suite', coin, '--results', results], dockerd.env);
    if (run.exitCode !== 0) t.comment(run.stdout + run.stderr);
    t.equal(run.exitCode, 0, '--image debian passes');
    const doc = assertRunValid(t, join(results, 'run.json'));
    t.same(statuses(doc), { 'coin/toss': 'pass' });
    t.match(doc.kernels[0]!.guestImage, { name: 'debian', id: /^sha256:/ });
    const stage = (name: string) => /^\S+ +\S+ +([\d.]+)s/.exec(run.stdout.split('\n').find((l) => l.startsWith(`${name} `) && /\d\.\ds/.test(l)) ?? '')?.[1];
    t.comment(`image stage ${stage('image')} s, boot ${stage('boot')} s`);
    t.match(readFileSync(join(results, 'console.log'), 'utf8'), /faultline: agent ready/);
    // The userland stays in the cache: the results directory holds only faultline's segments.
    t.ok(statSync(join(results, 'initrd.img')).size < 4 * 1024 * 1024, 'the saved initrd is small');
    const script = readFileSync(join(results, 'qemu-command.txt'), 'utf8');
    t.match(script, /rootfstype=ramfs/);
    const rootfs = /^cat '?([^' ]+\.cpio)'? /m.exec(script)?.[1];
    t.ok(rootfs && existsSync(rootfs), `the replay script takes the userland from the cache (${rootfs})`);
    const members = new Map(readCpio(readFileSync(rootfs!)).map((m) => [m.path, m] as const));
    t.match(members.get('bin'), { data: Buffer.from('usr/bin') }, 'bin -> usr/bin kept');
    // gzip's gunzip and uncompress are one file with two names in Debian's tar.
    const linked = ['usr/bin/gunzip', 'usr/bin/uncompress'].map((p) => members.get(p)).filter((m): m is ReadMember => m !== undefined && fileType(m) === 'file');
    t.ok(linked.length === 2 && linked[0]!.data.length > 0 && linked[0]!.data.equals(linked[1]!.data), 'hard links are copies of their target');
    t.equal(fileType(members.get('usr/bin/mount')!), 'file');
    t.equal(members.get('usr/bin/mount')!.mode & 0o4000, 0o4000, 'setuid kept');
  });

  t.test('a stop during an export removes its container and its partial archive', async (t) => {
    const debian = await inspectImage(engine, 'faultline/debian');
    const cache = mkdtempSync(join(scratch, 'stopped-'));
    const stop = new AbortController();
    const watching = (async () => {
      while ((await faultlineContainers()).length === 0) await new Promise((r) => setTimeout(r, 20));
      stop.abort(new Error('stopped by the test'));
    })();
    await t.rejects(exportRootfs(engine, debian, { cacheDir: cache, signal: stop.signal }), { message: 'stopped by the test' });
    await watching;
    t.same(await faultlineContainers(), []);
    t.same(readdirSync(join(cache, 'images')), [], 'nothing left in the cache');
  });

  t.test('SIGKILL mid-export leaves a labelled container the next run removes; an image without /bin/sh is exit 3', async (t) => {
    // A Debian image with one more layer: content of its own, so its export is not cached.
    const base = await inspectImage(engine, 'faultline/debian');
    const marker = pack();
    marker.entry({ name: 'faultline-test-marker' }, `${process.pid} ${Date.now()}\n`);
    marker.finalize();
    const work = await engine.docker.createContainer({ Image: base.id, Cmd: ['/bin/sh'] });
    await work.putArchive(marker as unknown as NodeJS.ReadableStream, { path: '/' });
    await work.commit({ repo: 'faultline-test/kill', tag: 'latest' });
    await work.remove({ force: true });

    const results = join(scratch, 'killed');
    const child = execa('node', [cli, 'run', '--image', 'docker:faultline-test/kill', '--suite', coin, '--results', results], { cwd: root, reject: false, env: { ...dockerd.env, CI: 'true' } });
    let left: Awaited<ReturnType<typeof faultlineContainers>> = [];
    for (let i = 0; i < 2400 && left.length === 0 && child.exitCode === null; i++) {
      left = await faultlineContainers();
      if (left.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await child;
    t.equal(left.length, 1, 'the export\'s container existed');
    t.equal((await faultlineContainers()).length, 1, 'and outlived the killed run');
    t.match((await faultlineContainers())[0]!.Labels[OWNER_LABEL], new RegExp(`^${child.pid}:`));

    const noShell = pack();
    noShell.entry({ name: 'etc/motd' }, 'no shell here\n');
    noShell.finalize();
    await new Promise<void>((resolve, reject) => {
      void engine.docker.importImage(noShell as unknown as NodeJS.ReadableStream, { repo: 'faultline-test/no-shell', tag: 'latest' }).then((stream) => {
        (stream as NodeJS.ReadableStream).on('end', resolve).on('error', reject).resume();
      }, reject);
    });
    const run = await faultline(['run', '--image', 'docker:faultline-test/no-shell', '--suite', coin, '--results', join(scratch, 'no-shell')], dockerd.env);
    t.equal(run.exitCode, 3, 'an image failure is exit 3');
    t.match(run.stderr, /the image docker:faultline-test\/no-shell \(sha256:[0-9a-f]{12}\) has no \/bin\/sh, so faultline's agent .* cannot run in it\n {2}Give an image with a POSIX shell at \/bin\/sh/);
    t.same(await faultlineContainers(), [], 'the next run removed the killed run\'s container, and its own');
    const partial = readdirSync(join(cacheDir(), 'images')).filter((name) => name.endsWith(`.${child.pid}.tmp`));
    t.same(partial, [], 'and the killed export\'s partial archive');
    await engine.docker.getImage('faultline-test/kill').remove({ force: true });
  });
}
