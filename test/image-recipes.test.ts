import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { chooseDebianMirror } from '../images/recipes/apt-mirror.js';
import { debootstrapRecipeHash } from '../images/recipes/debootstrap.js';
import { buildRecipeImage } from '../images/recipes/index.js';
import { RECIPE_LABEL } from '../images/recipes/labels.js';
import { connectEngine } from '../runner/core/engine/engine.js';
import { runInContainer } from '../runner/core/engine/container.js';
import { inspectImage } from '../runner/core/engine/images.js';
import { cacheDir } from '../runner/core/paths.js';
import { skipUnlessCi } from './fixtures/ci-needs.js';
import { dockerdMissing, startDockerd, type PrivateDockerd } from './fixtures/dockerd.js';
import { untilLine } from './fixtures/process.js';

// `faultline image build` of the shipped Debian recipes: real debootstrap from the configured
// mirror, real dockerd. The root file system tarballs live in the user's faultline cache, as a
// run's do, so only the first run on a machine pays for debootstrap.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const cache = cacheDir();
const scratch = mkdtempSync(join(tmpdir(), 'faultline-image-recipes-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

const faultline = (args: string[], env: NodeJS.ProcessEnv) => execa('node', [cli, ...args], { cwd: root, reject: false, env: { ...env, CI: 'true', FAULTLINE_CACHE: cache } });

const debootstrapMissing = (): string | null =>
  skipUnlessCi(existsSync('/usr/sbin/debootstrap') ? null : 'debootstrap is not installed (apt-get install debootstrap)');

/** Runs `script` with sh in a container of `image`, with `dir` mounted at /w; its exit code and output. */
async function inImage(env: NodeJS.ProcessEnv, image: string, script: string, dir = scratch) {
  const lines: string[] = [];
  const exit = await runInContainer(await connectEngine(env), { image, cmd: ['sh', '-c', script], mounts: [{ host: dir, guest: '/w' }], workdir: '/w', onLine: (l) => lines.push(l) });
  return { exitCode: exit.exitCode, output: lines.join('\n') };
}

t.test('the mirror is the one apt uses for the suite, unless one is named', async (t) => {
  const apt = mkdtempSync(join(scratch, 'apt-'));
  mkdirSync(join(apt, 'sources.list.d'));
  writeFileSync(join(apt, 'sources.list'), '# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://one-line.example/debian/ trixie main\n');
  writeFileSync(join(apt, 'sources.list.d', 'a.sources'), 'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: bookworm\n');
  writeFileSync(join(apt, 'sources.list.d', 'b.sources'), 'Types: deb\n# a comment\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n  bookworm-updates\nComponents: main\n');
  writeFileSync(join(apt, 'sources.list.d', 'c.list.disabled'), 'deb http://disabled.example/debian bookworm main\n');
  t.same(chooseDebianMirror('bookworm', undefined, {}, apt), { url: 'http://mirror.example/debian', from: join(apt, 'sources.list.d', 'b.sources') });
  t.same(chooseDebianMirror('bookworm-updates', undefined, {}, apt).url, 'http://mirror.example/debian');
  t.same(chooseDebianMirror('trixie', undefined, {}, apt).url, 'http://one-line.example/debian');
  t.same(chooseDebianMirror('sid', undefined, {}, apt).url, 'http://deb.debian.org/debian');
  t.same(chooseDebianMirror('bookworm', undefined, { FAULTLINE_DEBIAN_MIRROR: 'http://env.example/debian' }, apt).url, 'http://env.example/debian');
  t.same(chooseDebianMirror('bookworm', 'http://flag.example/debian', { FAULTLINE_DEBIAN_MIRROR: 'http://env.example/debian' }, apt).url, 'http://flag.example/debian');
});

const missing = dockerdMissing() ?? debootstrapMissing();
if (missing) {
  t.comment(`skipping the engine's tests: ${missing}`);
} else {
  // one engine for the file; a second, fresh one only where a fresh engine is the point
  let dockerd!: PrivateDockerd;
  t.before(async () => {
    dockerd = await startDockerd(t);
  });

  t.test('the recipe name is checked before any engine is asked', async (t) => {
    const r = await faultline(['image', 'build', 'ubuntu'], { ...process.env, DOCKER_HOST: 'unix:///nonexistent' });
    t.equal(r.exitCode, 2, r.stderr);
    t.equal(r.stderr, 'faultline: there is no shipped image recipe called "ubuntu"\n  The recipes are busybox, debian, debian-build; docker:DIR builds the Dockerfile in DIR.');
    t.equal(r.stdout, '');
  });

  t.test('no engine answering is one paragraph, exit 3, with how to start one', async (t) => {
    const r = await faultline(['image', 'build', 'debian'], { ...process.env, DOCKER_HOST: 'unix:///nonexistent' });
    t.equal(r.exitCode, 3, r.stderr);
    t.match(r.stderr, /^faultline: no Docker engine answers at unix:\/\/\/nonexistent \(.*ENOENT.*\)\n  Start one \(as root: `systemctl start docker`, or `dockerd &` after `apt-get install docker.io`\), or point DOCKER_HOST at one that runs/);
    t.equal(r.stderr.trim().split('\n').length, 2, 'the message and its hint');
  });

  t.test('debian: built once, then cached in the engine; the cached tarball gives the same layers elsewhere', async (t) => {
    const started = performance.now();
    const first = await faultline(['image', 'build', 'debian'], dockerd.env);
    t.equal(first.exitCode, 0, first.stderr);
    t.comment(`image build debian: ${((performance.now() - started) / 1000).toFixed(1)} s (${/root file system from the cache/.test(first.stderr) ? 'rootfs tarball cached' : 'debootstrap'})`);
    t.match(first.stdout, /^faultline\/debian sha256:[0-9a-f]{64} \d+ MB$/);
    t.match(first.stderr, /image debian: importing into the engine at unix:\/\/.* as faultline\/debian\n/);
    const info = await dockerd.docker.getImage('faultline/debian').inspect();
    t.equal(info.Id, first.stdout.split(' ')[1]);
    t.equal(info.Config?.Labels?.[RECIPE_LABEL], debootstrapRecipeHash('debian'));

    writeFileSync(join(scratch, 'hello.c'), '#include <stdio.h>\nint main(void) { printf("hello from %s\\n", "libc"); return 0; }\n');
    const built = await inImage(dockerd.env, 'faultline/debian', 'gcc --version && gcc -o hello hello.c && ./hello && bash -c \'echo "bash $BASH_VERSION"\' && for p in mount stty mkswap swapon cat sync make ps; do command -v $p; done');
    t.equal(built.exitCode, 0, built.output);
    t.match(built.output, /^gcc \(Debian 12\.[\d.-]+\S*\) 12\./);
    t.match(built.output, /\nhello from libc\nbash 5\./);
    t.match(built.output, /\/usr\/s?bin\/swapon\n/);

    const again = await faultline(['image', 'build', 'debian'], dockerd.env);
    t.equal(again.exitCode, 0, again.stderr);
    t.equal(again.stdout, first.stdout, 'the same image');
    t.match(again.stderr, /^image debian: faultline\/debian is up to date \(recipe [0-9a-f]+\)\nimage debian: done in [\d.]+ s$/, 'no debootstrap, no import');

    // A fresh engine (another machine, the next CI run) imports the cached tarball: the image id is
    // new (its creation time), the layers are the same.
    const other = await startDockerd(t);
    const progress: string[] = [];
    const imported = await buildRecipeImage(await connectEngine(other.env), 'debian', { cacheDir: cache, onProgress: (l) => progress.push(l) });
    t.match(progress.join('\n'), /root file system from the cache: .*debian-[0-9a-f]+\.tar/);
    t.notMatch(progress.join('\n'), /debootstrap/);
    t.equal(imported.contentKey, (await inspectImage(await connectEngine(dockerd.env), 'faultline/debian')).contentKey);
    t.same(readdirSync(join(cache, 'images', 'recipes')).filter((f) => /^work-|\.lock$|\.tmp$/.test(f)), [], 'no work directory or lock left behind');
  });

  t.test('debian-build has what a kernel build, make headers and the selftests use', async (t) => {
    const r = await faultline(['image', 'build', 'debian-build'], dockerd.env);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /^faultline\/debian-build sha256:[0-9a-f]{64} \d+ MB$/);
    const probe = await inImage(
      dockerd.env,
      'faultline/debian-build',
      [
        'for p in gcc make flex bison bc perl rsync cpio xz; do command -v $p || exit 1; done',
        'echo "2^10" | bc',
        'printf "#include <libelf.h>\\n#include <openssl/opensslv.h>\\n#include <stdio.h>\\n" | gcc -E -x c - -o /dev/null && echo headers ok',
      ].join(' && '),
    );
    t.equal(probe.exitCode, 0, probe.output);
    t.match(probe.output, /\n1024\nheaders ok$/);

    // docker:DIR through the same command, on top of the recipe's image
    const dir = mkdtempSync(join(scratch, 'dockerfile-'));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM faultline/debian-build\nRUN echo "int main(void) { return 0; }" > /t.c && gcc -o /t /t.c && /t\n');
    const built = await faultline(['image', 'build', `docker:${dir}`], dockerd.env);
    t.equal(built.exitCode, 0, built.stderr);
    t.match(built.stdout, /^sha256:[0-9a-f]{64} sha256:[0-9a-f]{64} \d+ MB$/);

    const list = await faultline(['image', 'list'], dockerd.env);
    t.equal(list.exitCode, 0, list.stderr);
    t.match(list.stdout, /^busybox +faultline\/busybox +not built\ndebian +faultline\/debian +built [0-9a-f]{12} \d+ MB\ndebian-build +faultline\/debian-build +built [0-9a-f]{12} \d+ MB$/);
  });

  t.test('Ctrl-C during debootstrap stops it and leaves nothing behind', async (t) => {
    // a cache of its own, so debootstrap runs; stopped while it fetches the package lists, before
    // any package. (Stopped later, once dpkg runs in the target, proc is mounted there:
    // the same code detaches it before removing the tree; seen by hand, too slow for every run.)
    const own = mkdtempSync(join(scratch, 'cache-'));
    const child = execa('node', [cli, 'image', 'build', 'debian', '--rebuild'], { cwd: root, reject: false, env: { ...dockerd.env, CI: 'true', FAULTLINE_CACHE: own } });
    await untilLine(child.stderr!, /I: Retrieving Packages/, 60_000);
    child.kill('SIGINT');
    const r = await child;
    t.equal(r.exitCode, 130, r.stderr);
    t.notOk((await readFile('/proc/mounts', 'utf8')).includes(own), 'nothing mounted under the cache');
    t.same(readdirSync(join(own, 'images', 'recipes')), ['debs'], 'no work directory, tarball or lock');
    t.same(readdirSync(join(own, 'images', 'recipes', 'debs')).filter((f) => f.endsWith('.deb')), [], 'stopped before any package came');
  });

  t.test('making a root file system as an ordinary user says it needs root, exit 3', async (t) => {
    // the user's own (empty) cache, the test's engine open to them, and --rebuild past the
    // engine's image of the recipe
    const home = mkdtempSync(join(tmpdir(), 'faultline-image-user-'));
    t.teardown(() => rmSync(home, { recursive: true, force: true }));
    await chmod(home, 0o777);
    await chmod(dockerd.dir, 0o711);
    await chmod(dockerd.host.replace('unix://', ''), 0o666);
    const r = await execa('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', 'env', '-i', `PATH=${process.env.PATH}`, `DOCKER_HOST=${dockerd.host}`, `FAULTLINE_CACHE=${home}`, 'node', cli, 'image', 'build', 'debian', '--rebuild'], { cwd: home, reject: false });
    t.equal(r.exitCode, 3, r.stderr);
    t.match(r.stderr, /faultline: making a Debian root file system with debootstrap needs root .*\n  Run `faultline image build NAME` once as root/);
  });
}
