import { lstatSync, mkdtempSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import t from 'tap';
import { gzipCpio, writeCpio, type CpioEntry } from '../images/cpio.js';

const entries: CpioEntry[] = [
  { type: 'file', path: 'init', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { type: 'symlink', path: 'bin/sh', target: 'busybox' },
  { type: 'file', path: '/bin/busybox', mode: 0o755, data: Buffer.alloc(4099, 0xab) },
  { type: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
  { type: 'file', path: 'faultline/plan', data: Buffer.from('plan 1\n') },
];

t.test('the real cpio lists members sorted, parents first', async (t) => {
  const listed = await execa('cpio', ['-it', '--quiet'], { input: writeCpio(entries) });
  t.same(listed.stdout.split('\n'), ['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'faultline', 'faultline/plan', 'init', 'tmp']);
});

t.test('the real cpio extracts modes, data, symlinks and device nodes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-cpio-'));
  await execa('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { cwd: dir, input: gunzipSync(gzipCpio(writeCpio(entries))) });
  t.equal(readFileSync(join(dir, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
  t.equal(statSync(join(dir, 'init')).mode & 0o7777, 0o755);
  t.same(readFileSync(join(dir, 'bin/busybox')), Buffer.alloc(4099, 0xab));
  t.equal(readlinkSync(join(dir, 'bin/sh')), 'busybox');
  t.equal(statSync(join(dir, 'tmp')).mode & 0o7777, 0o1777);
  t.equal(statSync(join(dir, 'faultline/plan')).mode & 0o7777, 0o644);
  const console = lstatSync(join(dir, 'dev/console'));
  t.ok(console.isCharacterDevice());
  t.equal(console.rdev, (5 << 8) | 1);
});

t.test('deterministic: same entries in any order give the same bytes', async (t) => {
  t.same(writeCpio(entries), writeCpio([...entries].reverse()));
  t.same(gzipCpio(writeCpio(entries)), gzipCpio(writeCpio(entries)));
  const header = writeCpio(entries).toString('latin1', 0, 110);
  t.match(header, /^070701/);
  t.equal(header.slice(6 + 8 * 5, 6 + 8 * 6), '00000000', 'mtime is 0');
});

t.test('bad input is refused', async (t) => {
  t.throws(() => writeCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a/' }]), /duplicate path a/);
  t.throws(() => writeCpio([{ type: 'dir', path: '../x' }]), /bad path/);
  t.throws(() => writeCpio([{ type: 'file', path: 'a', data: Buffer.alloc(0) }, { type: 'dir', path: 'a/b' }]), /a is not a directory/);
});
