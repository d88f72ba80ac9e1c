import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { makeTempDir, sweepStaleTempDirs } from '../runner/core/temp-dirs.js';
import { eventually } from './fixtures/process.js';

// A run killed outright (kill -9) leaves QEMU's directory (sockets, a 64 MiB sparse swap disk) or
// a half-downloaded package in the temporary directory. The next run removes those whose process
// is dead, and nothing else.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-sweep-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

t.test('a directory is named by the process that made it', async (t) => {
  const temp = join(scratch, 'named');
  mkdirSync(temp);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = temp;
  t.teardown(() => void (previous === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = previous)));
  const qemu = await makeTempDir('faultline-qemu');
  const deb = await makeTempDir('faultline-deb');
  t.match(qemu, new RegExp(`^${temp}/faultline-qemu-${process.pid}-[A-Za-z0-9]{6}$`));
  t.match(deb, new RegExp(`^${temp}/faultline-deb-${process.pid}-[A-Za-z0-9]{6}$`));
  t.same(await sweepStaleTempDirs(temp), [], 'its own process lives: nothing is removed');
  t.ok(existsSync(qemu) && existsSync(deb));
});

t.test('only directories of dead faultline processes go', async (t) => {
  const temp = join(scratch, 'mixed');
  mkdirSync(temp);
  const dead = await deadPid();
  const sleeper = execa('sleep', ['60'], { reject: false });
  t.teardown(() => void sleeper.kill('SIGKILL'));
  const make = (name: string) => {
    mkdirSync(join(temp, name));
    writeFileSync(join(temp, name, 'swap.img'), '');
    return name;
  };
  const stale = [make(`faultline-qemu-${dead}-AbC123`), make(`faultline-deb-${dead}-xYz789`)];
  const kept = [
    make(`faultline-qemu-${sleeper.pid}-Live01`), // its process lives
    make(`faultline-qemu-${process.pid}-Mine01`), // this process
    make(`faultline-qemu-1-Init01`), // pid 1 lives
    make('faultline-qemu-AbC123'), // the old naming, without a pid: whose it is cannot be told
    make(`faultline-qemu-${dead}-toolong1`), // not a name faultline makes
    make(`faultline-tree-${dead}-AbC123`), // another kind of faultline directory, not swept
    make(`other-qemu-${dead}-AbC123`),
  ];
  writeFileSync(join(temp, `faultline-deb-${dead}-File01`), 'a file, not a directory');
  mkdirSync(join(scratch, 'elsewhere'));
  symlinkSync(join(scratch, 'elsewhere'), join(temp, `faultline-qemu-${dead}-Link01`));
  kept.push(`faultline-deb-${dead}-File01`, `faultline-qemu-${dead}-Link01`);

  const removed = await sweepStaleTempDirs(temp);
  t.same(removed.sort(), stale.map((n) => join(temp, n)).sort(), 'the dead process\'s directories');
  t.same(readdirSync(temp).sort(), kept.sort(), 'everything else is where it was');
  t.ok(existsSync(join(scratch, 'elsewhere')), 'a symbolic link is not followed');
});

t.test('after kill -9 mid-guest, the next run removes the guest\'s swap disk and sockets', async (t) => {
  const temp = join(scratch, 'killed');
  mkdirSync(temp);
  const env = { CI: 'true', TMPDIR: temp };
  // swapped-out-minor needs swap, so its guest gets the sparse swap disk.
  const child = execa('node', [cli, 'run', '--case', 'swapped-out-minor', '--results', join(scratch, 'killed-run')], { cwd: root, reject: false, env });
  t.teardown(() => void child.kill('SIGKILL'));
  const swapDisk = () => readdirSync(temp).map((name) => join(temp, name, 'swap.img')).find((path) => existsSync(path));
  t.ok(await eventually(async () => swapDisk() !== undefined, 300_000), 'the guest got its swap disk');
  const disk = swapDisk()!;
  t.equal(statSync(disk).size, 64 * 1024 * 1024);
  t.match(disk, new RegExp(`/faultline-qemu-${child.pid}-[A-Za-z0-9]{6}/swap\\.img$`), 'named by the run that made it');
  child.kill('SIGKILL');
  await child;
  t.ok(existsSync(disk), 'kill -9 leaves it behind');

  const sleeper = execa('sleep', ['60'], { reject: false });
  t.teardown(() => void sleeper.kill('SIGKILL'));
  const live = join(temp, `faultline-qemu-${sleeper.pid}-Live01`);
  mkdirSync(live);
  const next = await execa('node', [cli, 'run', '--kernel', 'host', '--suite', join(root, 'test', 'fixtures', 'suites', 'skip-causes.yaml'), '--results', join(scratch, 'next-run')], { cwd: root, reject: false, env });
  if (!t.equal(next.exitCode, 0, 'the next run passes')) t.comment(next.stdout + next.stderr);
  t.same(readdirSync(temp), [`faultline-qemu-${sleeper.pid}-Live01`], 'the dead run\'s directory is gone; a live one\'s stays');
});
