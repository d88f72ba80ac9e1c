import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { extract } from 'tar-stream';
import { buildDockerfile } from '../images/docker/dockerfile.js';
import { buildBusyboxRecipe } from '../images/recipes/busybox.js';
import { BUSYBOX_APPLETS } from '../images/initramfs.js';
import { RECIPE_LABEL } from '../images/recipes/labels.js';
import { runInContainer } from '../runner/core/engine/container.js';
import { connectEngine, startEngineHint, type Engine } from '../runner/core/engine/engine.js';
import { inspectImage } from '../runner/core/engine/images.js';
import { OWNER_LABEL, ownerLabels, sweepStale } from '../runner/core/engine/owner.js';
import { FaultlineError } from '../runner/core/errors.js';
import { cacheDir } from '../runner/core/paths.js';
import { requireTool } from '../runner/core/tools.js';
import { untilLine } from './fixtures/process.js';
import { dockerdMissing, startDockerd, type PrivateDockerd } from './fixtures/dockerd.js';

// The Docker engine core against a real dockerd of the test's own (on a unix socket and on
// 127.0.0.1 tcp): DOCKER_HOST forms, Dockerfile builds and the shipped busybox recipe, and each
// failure provoked for real: no engine, a failed step, a missing image, a container exiting
// non-zero, a stop, and a SIGKILLed faultline whose leftovers the next start removes.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-docker-engine-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const recipe = { cacheDir: cacheDir() };

const faultline = (args: string[], env: NodeJS.ProcessEnv) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { ...env, CI: 'true' } });

function dockerfileDir(name: string, text: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), text);
  return dir;
}

async function refusedTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const faultlineContainers = async (engine: Engine) => engine.docker.listContainers({ all: true, filters: JSON.stringify({ label: [OWNER_LABEL] }) });

async function until<T>(get: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const value = await get();
    if (done(value) || i === 50) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits, up to 10 s, for the engine to hold no container (faultline's or a build's): the ids of those still there. */
async function containersLeft(engine: Engine): Promise<string[]> {
  const started = performance.now();
  for (;;) {
    const left = (await engine.docker.listContainers({ all: true })).map((c) => c.Id);
    if (left.length === 0 || performance.now() - started > 10_000) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('no engine answering: one paragraph, exit 3, naming the address and how to start one', async (t) => {
  const nobody = join(scratch, 'nobody.sock');
  writeFileSync(nobody, ''); // a socket file a killed engine left: nothing listens on it
  const port = await refusedTcpPort();
  const hosts = [
    [`unix://${join(scratch, 'absent.sock')}`, /ENOENT/],
    [`unix://${nobody}`, /ECONNREFUSED/],
    [`tcp://127.0.0.1:${port}`, /ECONNREFUSED/],
  ] as const;
  const doctors = Promise.all(hosts.map(([host]) => faultline(['doctor', '--image', 'docker:some/image'], { ...process.env, DOCKER_HOST: host })));
  for (const [host, reason] of hosts) {
    const error = await connectEngine({ DOCKER_HOST: host }).then(() => null, (e: unknown) => e);
    t.ok(error instanceof FaultlineError, host);
    const e = error as FaultlineError;
    t.equal(e.exitCode, 3, host);
    t.match(e.message, `no Docker engine answers at ${host} (`, host);
    t.match(e.message, reason, host);
    t.equal(e.hint, startEngineHint);
  }
  for (const [i, doctor] of (await doctors).entries()) {
    const host = hosts[i]![0];
    t.equal(doctor.exitCode, 3, doctor.stdout);
    t.match(doctor.stdout, `MISSING  engine   no Docker engine answers at ${host} (`, host);
    t.match(doctor.stdout, `fix: ${startEngineHint}`);
    t.match(doctor.stdout, 'MISSING  image    --image docker:some/image: not checked, as no engine answers');
  }
});

t.test('DOCKER_HOST forms docker-modem takes: a tcp host without a port means 2375, as for the docker CLI', async (t) => {
  const e = (await connectEngine({ DOCKER_HOST: 'tcp://127.0.0.1' }).catch((x: unknown) => x)) as FaultlineError;
  t.match(e.message, /^no Docker engine answers at tcp:\/\/127\.0\.0\.1:2375 \(/);
  const bare = (await connectEngine({ DOCKER_HOST: '127.0.0.1' }).catch((x: unknown) => x)) as FaultlineError;
  t.match(bare.message, /^no Docker engine answers at tcp:\/\/127\.0\.0\.1:2375 \(/);
  const before = { ...process.env };
  await connectEngine({ DOCKER_HOST: `unix://${join(scratch, 'absent.sock')}`, DOCKER_CERT_PATH: '/nonexistent' }).catch(() => undefined);
  t.same(process.env, before, 'the process environment is restored');
});

t.test('doctor needs no engine unless an image asks for one', async (t) => {
  const env = { ...process.env, DOCKER_HOST: `unix://${join(scratch, 'absent.sock')}` };
  const plain = await faultline(['doctor', '--image', 'busybox'], env);
  t.match(plain.stdout, /^ok {7}engine {3}none answers at unix:\/\/.*absent\.sock; only images other than busybox/m);
  t.match(plain.stdout, /^ok {7}image {4}--image busybox: the built-in image, made without an engine$/m);
  t.notMatch(plain.stdout, /MISSING {2}(engine|image)/);
  const bad = await faultline(['doctor', '--image', 'docker:'], env);
  t.equal(bad.exitCode, 2, 'a malformed name is a usage error');
});

const missing = dockerdMissing();
if (missing) {
  t.test('the engine tests', { skip: missing }, async () => undefined);
} else {
  let dockerd: PrivateDockerd;
  let engine: Engine;
  t.before(async () => {
    dockerd = await startDockerd(t, { tcp: true });
    engine = await connectEngine(dockerd.env);
  });

  t.test('DOCKER_HOST unix:// and tcp:// reach the same engine through dockerode', async (t) => {
    t.equal(engine.where, dockerd.host);
    const tcp = await connectEngine({ DOCKER_HOST: dockerd.tcpHost! });
    t.equal(tcp.where, dockerd.tcpHost);
    const bare = await connectEngine({ DOCKER_HOST: dockerd.tcpHost!.replace('tcp://', '') });
    t.equal(bare.where, dockerd.tcpHost, 'host:port without a scheme is tcp');
    const ids = await Promise.all([engine, tcp, bare].map(async (e) => ((await e.docker.info()) as { ID: string }).ID));
    t.equal(new Set(ids).size, 1, 'one engine');
    t.equal(await connectEngine(dockerd.env), engine, 'asked once per address');
  });

  t.test('the busybox recipe: FROM scratch, the built-in image\'s busybox and applets, cached by its recipe', async (t) => {
    const progress: string[] = [];
    const started = performance.now();
    const image = await buildBusyboxRecipe(engine, { ...recipe, onProgress: (l) => progress.push(l) });
    t.comment(`busybox recipe built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    t.equal(image.name, 'faultline/busybox');
    t.ok(progress.some((l) => /^Step \d+\/\d+ : FROM scratch$/.test(l)), 'progress shows the steps');
    const info = await engine.docker.getImage('faultline/busybox').inspect();
    t.match(info.Config.Labels, { [RECIPE_LABEL]: /^[0-9a-f]{24}$/, 'org.faultline.recipe-name': 'busybox' });
    t.same(await faultlineContainers(engine), [], 'no intermediate container is left');

    const files = await exportedFiles(engine, image.id);
    const host = readFileSync(realpathSync(await requireTool('busybox', 'busybox-static')));
    t.ok(files.get('bin/busybox')?.data?.equals(host), 'the host\'s static busybox, as buildBaseImage takes it');
    const links = [...files].filter(([name, f]) => f.type === 'symlink' && name.startsWith('bin/')).map(([name, f]) => [name, f.target]);
    t.same(links.sort(), BUSYBOX_APPLETS.map((a) => [`bin/${a}`, 'busybox']).sort(), 'BUSYBOX_APPLETS, each a link to busybox');
    t.equal((files.get('tmp')?.mode ?? 0) & 0o7777, 0o1777);
    for (const dir of ['dev', 'proc', 'sys']) t.equal(files.get(dir)?.type, 'directory', dir);

    const again: string[] = [];
    const cached = await buildBusyboxRecipe(engine, { ...recipe, onProgress: (l) => again.push(l) });
    t.equal(cached.id, image.id);
    t.same(again, [`faultline/busybox is up to date (recipe ${info.Config.Labels[RECIPE_LABEL]})`], 'no build');
    const rebuilt = await buildBusyboxRecipe(engine, { ...recipe, rebuild: true });
    t.equal(rebuilt.contentKey, image.contentKey, 'built again without the build cache: the same layer, so the same content key (and cached export) on any engine');

    const shell = await runInContainer(engine, { image: 'faultline/busybox', cmd: ['sh', '-c', 'ls /bin | wc -l; [ -d /tmp ] && echo tmp'], mounts: [], workdir: '/' });
    t.equal(shell.exitCode, 0, 'its sh runs');
  });

  t.test('a Dockerfile build: the context, extra files, build args, labels, no network', async (t) => {
    const extra = join(scratch, 'extra.txt');
    writeFileSync(extra, 'from elsewhere\n');
    const dir = dockerfileDir('good', 'FROM faultline/busybox\nARG WORD\nCOPY here.txt extra.txt /\nRUN echo "$WORD" > /word && grep -c : /proc/net/dev > /interfaces\n');
    writeFileSync(join(dir, 'here.txt'), 'from the directory\n');
    const lines: string[] = [];
    const image = await buildDockerfile(engine, dir, { ...recipe, tag: 'faultline-test/good', labels: { 'org.faultline.test': 'yes' }, extraFiles: [{ name: 'extra.txt', path: extra }], buildArgs: { WORD: 'hello' }, onProgress: (l) => lines.push(l) });
    t.equal(image.name, 'faultline-test/good');
    t.ok(lines.some((l) => /^Step 4\/\d : RUN echo "\$WORD" > \/word && grep -c : \/proc\/net\/dev > \/interfaces$/.test(l)), 'steps reach onProgress');
    t.equal(((await engine.docker.getImage(image.id).inspect()).Config.Labels ?? {})['org.faultline.test'], 'yes');
    const out: string[] = [];
    await runInContainer(engine, { image: image.id, cmd: ['cat', '/here.txt', '/extra.txt', '/word', '/interfaces'], mounts: [], workdir: '/', onLine: (l) => out.push(l) });
    // /proc/net/dev has a line `NAME:` per interface (its two header lines have none).
    t.same(out.slice(0, 3), ['from the directory', 'from elsewhere', 'hello']);
    t.equal(out[3], '1', 'the build saw only lo');
  });

  t.test('a failed step names the step and the engine\'s words, exit 3, and leaves no container', async (t) => {
    const dir = dockerfileDir('fails', 'FROM faultline/busybox\nRUN echo about to fail && exit 3\n');
    const error = await buildDockerfile(engine, dir, recipe).then(() => null, (e: unknown) => e);
    t.ok(error instanceof FaultlineError);
    const e = error as FaultlineError;
    t.equal(e.kind, 'image');
    t.equal(e.exitCode, 3);
    t.match(e.message, `building ${join(dir, 'Dockerfile')} failed at Step 2/2 : RUN echo about to fail && exit 3: The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3`);
    t.match(e.message, /its last lines:\n(.*\n)*    about to fail/);
    t.match(e.hint, `Fix that step in ${join(dir, 'Dockerfile')}`);
    t.same(await containersLeft(engine), [], 'forcerm removed the failed step\'s container');
  });

  t.test('a directory without a Dockerfile, and none at all', async (t) => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty, { recursive: true });
    const e = (await buildDockerfile(engine, empty, recipe).catch((x: unknown) => x)) as FaultlineError;
    t.equal(e.kind, 'image');
    t.equal(e.message, `${empty} has no Dockerfile`);
    t.match(e.hint, `Write ${join(empty, 'Dockerfile')} (FROM scratch`);
    const none = (await buildDockerfile(engine, join(scratch, 'nowhere'), recipe).catch((x: unknown) => x)) as FaultlineError;
    t.match(none.message, `${join(scratch, 'nowhere')} is not there: docker:DIR names a directory holding a Dockerfile`);
  });

  t.test('an image the engine does not have', async (t) => {
    const e = (await inspectImage(engine, 'nosuch/image').catch((x: unknown) => x)) as FaultlineError;
    t.equal(e.kind, 'image');
    t.equal(e.exitCode, 3);
    t.equal(e.message, `the engine at ${dockerd.host} has no image nosuch/image`);
    const run = (await runInContainer(engine, { image: 'nosuch/image', cmd: ['true'], mounts: [], workdir: '/' }).catch((x: unknown) => x)) as FaultlineError;
    t.equal(run.kind, 'image');
    t.equal(run.message, `the engine at ${dockerd.host} has no image nosuch/image`);
    const from = dockerfileDir('from-nosuch', 'FROM nosuch/base AS base\nFROM base\n');
    const [doctor, fromDoctor, good] = await Promise.all([
      faultline(['doctor', '--image', 'docker:nosuch/image'], dockerd.env),
      faultline(['doctor', '--image', `docker:${from}`], dockerd.env),
      faultline(['doctor', '--build-image', 'docker:faultline/busybox'], dockerd.env),
    ]);
    t.equal(doctor.exitCode, 3);
    t.match(doctor.stdout, `ok       engine   ${dockerd.host} answers: Docker `);
    t.match(doctor.stdout, `MISSING  image    the engine at ${dockerd.host} has no image nosuch/image`);
    t.match(fromDoctor.stdout, `MISSING  image    ${join(from, 'Dockerfile')} builds FROM nosuch/base, which the engine at ${dockerd.host} does not have (builds ask no registry)`);
    t.match(good.stdout, /^ok {7}image {4}--build-image docker:faultline\/busybox: faultline\/busybox is sha256:/m);
  });

  t.test('through faultline run --image: a failed step, a missing image and no engine are exit 3 with the fix', async (t) => {
    const fails = dockerfileDir('run-fails', 'FROM faultline/busybox\nRUN echo about to fail && exit 3\n');
    const results = (name: string) => ['--results', join(scratch, 'results', name)];
    const [step, nosuch, noEngine] = await Promise.all([
      faultline(['run', '--image', `docker:${fails}`, ...results('fails')], dockerd.env),
      faultline(['run', '--image', 'docker:nosuch/image', ...results('nosuch')], dockerd.env),
      faultline(['run', '--image', 'docker:nosuch/image', ...results('no-engine')], { ...process.env, DOCKER_HOST: `unix://${join(scratch, 'absent.sock')}` }),
    ]);
    t.equal(step.exitCode, 3, step.stderr);
    t.match(step.stderr, `faultline: building ${join(fails, 'Dockerfile')} failed at Step 2/2 : RUN echo about to fail && exit 3: The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3`);
    t.match(step.stderr, `  Fix that step in ${join(fails, 'Dockerfile')}`);
    t.equal(nosuch.exitCode, 3, nosuch.stderr);
    t.match(nosuch.stderr, `faultline: the engine at ${dockerd.host} has no image nosuch/image\n  List its images with \`docker images\``);
    t.equal(noEngine.exitCode, 3, noEngine.stderr);
    t.match(noEngine.stderr, `faultline: no Docker engine answers at unix://${join(scratch, 'absent.sock')} (connect ENOENT`);
    t.match(noEngine.stderr, `\n  ${startEngineHint}`);
  });

  t.test('Ctrl-C of faultline run during an image build: exit 130 and no container left', async (t) => {
    const dir = dockerfileDir('run-sleeps', 'FROM faultline/busybox\nRUN echo sleeping; sleep 60\n');
    const run = execa('node', [cli, 'run', '--image', `docker:${dir}`, '--results', join(scratch, 'results', 'interrupted')], { cwd: root, reject: false, env: { ...dockerd.env, CI: 'true' } });
    const running = await until(() => engine.docker.listContainers(), (l) => l.length > 0);
    t.equal(running.length, 1, 'the build\'s step runs');
    const stoppedAt = performance.now();
    run.kill('SIGINT');
    const result = await run;
    t.equal(result.exitCode, 130, result.stderr);
    t.same(await containersLeft(engine), [], 'no container is left');
    t.comment(`faultline and the step's container gone ${(performance.now() - stoppedAt).toFixed(0)} ms after SIGINT`);
  });

  t.test('a container that exits non-zero: its exit code and output, and it is removed', async (t) => {
    const work = mkdtempSync(join(scratch, 'work-'));
    chmodSync(work, 0o777);
    const lines: string[] = [];
    const exit = await runInContainer(engine, {
      image: 'faultline/busybox',
      cmd: ['sh', '-c', 'echo one; echo two >&2; echo "$GREETING" > out; id -u; exit 3'],
      mounts: [{ host: work }],
      workdir: work,
      env: { GREETING: 'hi' },
      user: '1234:1234',
      onLine: (l) => lines.push(l),
    });
    t.same(exit, { exitCode: 3, aborted: false });
    t.same(lines.sort(), ['1234', 'one', 'two']);
    t.same(await faultlineContainers(engine), []);
  });

  t.test('a stop kills and removes the container at once', async (t) => {
    const controller = new AbortController();
    let stoppedAt = 0;
    const exit = await runInContainer(engine, {
      image: 'faultline/busybox',
      cmd: ['sh', '-c', 'echo started; sleep 60'],
      mounts: [],
      workdir: '/',
      signal: controller.signal,
      onLine: (l) => {
        if (l === 'started') {
          stoppedAt = performance.now();
          controller.abort();
        }
      },
    });
    const took = performance.now() - stoppedAt;
    t.comment(`stopped in ${took.toFixed(0)} ms`);
    t.same(exit, { exitCode: 137, aborted: true }, 'killed, not left to end its sleep');
    t.same(await faultlineContainers(engine), [], 'gone');
    await t.rejects(runInContainer(engine, { image: 'faultline/busybox', cmd: ['true'], mounts: [], workdir: '/', signal: controller.signal }), { name: 'AbortError' }, 'a stopped run starts none');
  });

  t.test('a stop during a build ends it, and the engine removes the step\'s container', async (t) => {
    const dir = dockerfileDir('sleeps', 'FROM faultline/busybox\nRUN echo sleeping; sleep 60\n');
    const controller = new AbortController();
    await t.rejects(
      buildDockerfile(engine, dir, { ...recipe, signal: controller.signal, onProgress: (l) => l === 'sleeping' && controller.abort() }),
      { name: 'AbortError' },
    );
    t.same(await containersLeft(engine), [], 'no container left');
  });

  t.test('after SIGKILL of faultline: the next start removes what it left; a live run\'s are kept', async (t) => {
    const child = join(scratch, 'killed.mjs');
    const dist = (p: string) => pathToFileURL(join(root, 'dist', p)).href;
    const labelled = dockerfileDir('labelled', 'FROM faultline/busybox\nRUN echo temporary > /t\n');
    writeFileSync(
      child,
      `import { connectEngine } from '${dist('runner/core/engine/engine.js')}';
import { runInContainer } from '${dist('runner/core/engine/container.js')}';
import { ownerLabels } from '${dist('runner/core/engine/owner.js')}';
import { buildDockerfile } from '${dist('images/docker/dockerfile.js')}';
const engine = await connectEngine();
const image = await buildDockerfile(engine, ${JSON.stringify(labelled)}, { cacheDir: '', labels: ownerLabels() });
await runInContainer(engine, { image: 'faultline/busybox', cmd: ['sh', '-c', 'echo started; sleep 60'], mounts: [], workdir: '/', onLine: (l) => console.log(l + ' ' + image.id) });
`,
    );
    const proc = spawn(process.execPath, [child], { env: dockerd.env, stdio: ['ignore', 'pipe', 'inherit'] });
    // One line says both: its container runs, and the image it made.
    const imageId = (await untilLine(proc.stdout, /^started sha256:[0-9a-f]+$/, 120_000)).slice('started '.length);
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    // The process can print before the engine marks its container running.
    const left = await until(() => faultlineContainers(engine), (l) => l[0]?.State === 'running');
    t.equal(left.length, 1, 'the killed run\'s container lives on');
    t.equal(left[0]!.State, 'running');

    const live = await engine.docker.createContainer({ Image: 'faultline/busybox', Cmd: ['true'], Labels: ownerLabels() });
    const swept = await sweepStale(engine);
    t.same(swept, { containers: [left[0]!.Id], images: [imageId] }, 'the dead owner\'s container and image');
    t.same((await faultlineContainers(engine)).map((c) => c.Id), [live.id], 'the live owner\'s container is kept');
    t.equal(await engine.docker.getImage(imageId).inspect().then(() => true, () => false), false, 'the image is gone');
    await live.remove({ force: true });
  });

  t.test('SIGKILL during a build: the engine ends the step and removes its container', async (t) => {
    const dir = dockerfileDir('sleeps-killed', 'FROM faultline/busybox\nRUN echo sleeping; sleep 60\n');
    const child = join(scratch, 'killed-build.mjs');
    writeFileSync(
      child,
      `import { connectEngine } from '${pathToFileURL(join(root, 'dist/runner/core/engine/engine.js')).href}';
import { buildDockerfile } from '${pathToFileURL(join(root, 'dist/images/docker/dockerfile.js')).href}';
await buildDockerfile(await connectEngine(), ${JSON.stringify(dir)}, { cacheDir: '', onProgress: (l) => console.log(l) });
`,
    );
    const proc = spawn(process.execPath, [child], { env: dockerd.env, stdio: ['ignore', 'pipe', 'inherit'] });
    await untilLine(proc.stdout, /^sleeping$/, 120_000);
    t.equal((await until(() => engine.docker.listContainers(), (l) => l.length > 0)).length, 1, 'the step runs');
    proc.kill('SIGKILL');
    const killedAt = performance.now();
    t.same(await containersLeft(engine), [], 'the engine removed the step\'s container');
    t.comment(`the step's container went ${(performance.now() - killedAt).toFixed(0)} ms after the SIGKILL`);
  });
}

/** The files of an image as `docker export` of a container of it gives them. */
async function exportedFiles(engine: Engine, image: string): Promise<Map<string, { type: string; mode: number; target?: string; data?: Buffer }>> {
  const container = await engine.docker.createContainer({ Image: image, Cmd: ['true'], Labels: ownerLabels() });
  try {
    const tar = await container.export();
    const files = new Map<string, { type: string; mode: number; target?: string; data?: Buffer }>();
    const reader = extract();
    reader.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const name = header.name.replace(/^\.?\//, '').replace(/\/$/, '');
        files.set(name, { type: header.type ?? 'file', mode: header.mode ?? 0, ...(header.linkname ? { target: header.linkname } : {}), ...(header.type === 'file' ? { data: Buffer.concat(chunks) } : {}) });
        next();
      });
    });
    await new Promise((resolve, reject) => {
      reader.on('finish', () => resolve(undefined));
      reader.on('error', reject);
      tar.pipe(reader);
    });
    return files;
  } finally {
    await container.remove({ force: true });
  }
}
