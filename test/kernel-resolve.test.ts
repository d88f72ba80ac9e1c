import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { requiredKernelOptions } from '../kernels/config.js';
import { defaultKernelPackage } from '../kernels/default.js';
import { fetchDebianKernel, resolveMetaPackage } from '../kernels/debian.js';
import { resolveKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';

/** Just enough of a bzImage for the header reader. */
function fakeBzImage(version: string): Buffer {
  const buf = Buffer.alloc(0x1000);
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(0x020f, 0x206);
  buf.writeUInt16LE(0x400, 0x20e);
  buf.write(version + '\0', 0x600, 'latin1');
  return buf;
}
const goodConfig = requiredKernelOptions.map((o) => `${o.name}=y`).join('\n') + '\n';
const cacheDir = mkdtempSync(join(tmpdir(), 'faultline-resolve-'));
t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));

t.test('a /boot-style file kernel finds its config beside it', async (t) => {
  const dir = mkdtempSync(join(cacheDir, 'kfile-'));
  writeFileSync(join(dir, 'vmlinuz-6.9.1-test'), fakeBzImage('6.9.1-test (me@box) #1'));
  writeFileSync(join(dir, 'config-6.9.1-test'), goodConfig);
  const kernel = await resolveKernel(parseKernelSpec(join(dir, 'vmlinuz-6.9.1-test')), { cacheDir });
  t.equal(kernel.label, 'vmlinuz-6.9.1-test');
  t.match(kernel.id, /^image-[0-9a-f]{24}$/, 'a file kernel is known by its bytes');
  t.equal(kernel.release, '6.9.1-test');
  t.equal(kernel.image, join(dir, 'vmlinuz-6.9.1-test'));
  t.equal(kernel.config?.get('CONFIG_USERFAULTFD'), 'y');
  t.equal(kernel.headersDir, null);
  // Known by its bytes: the same image elsewhere is the same kernel, one byte more is another.
  const elsewhere = mkdtempSync(join(cacheDir, 'kcopy-'));
  writeFileSync(join(elsewhere, 'vmlinuz-6.9.1-test'), fakeBzImage('6.9.1-test (me@box) #1'));
  t.equal((await resolveKernel(parseKernelSpec(join(elsewhere, 'vmlinuz-6.9.1-test')), { cacheDir })).id, kernel.id, 'a copy elsewhere: the same id');
  writeFileSync(join(elsewhere, 'vmlinuz-6.9.1-test'), fakeBzImage('6.9.1-test (me@box) #2'));
  t.not((await resolveKernel(parseKernelSpec(join(elsewhere, 'vmlinuz-6.9.1-test')), { cacheDir })).id, kernel.id, 'other bytes: another id');
});

t.test('a build tree kernel is named after its tree and checked against .config', async (t) => {
  const tree = join(mkdtempSync(join(cacheDir, 'ktree-')), 'uffd-fix');
  mkdirSync(join(tree, 'arch/x86/boot'), { recursive: true });
  mkdirSync(join(tree, 'usr/include/linux'), { recursive: true });
  const image = join(tree, 'arch/x86/boot/bzImage');
  writeFileSync(image, fakeBzImage('6.10.0-rc1+ (me@box) #7'));
  writeFileSync(join(tree, '.config'), goodConfig);
  const kernel = await resolveKernel({ kind: 'file', path: image }, { cacheDir });
  t.same({ label: kernel.label, release: kernel.release, headersDir: kernel.headersDir }, { label: 'uffd-fix', release: '6.10.0-rc1+', headersDir: join(tree, 'usr/include') });
  writeFileSync(join(tree, '.config'), goodConfig.replace('CONFIG_USERFAULTFD=y', '# CONFIG_USERFAULTFD is not set'));
  await t.rejects(resolveKernel({ kind: 'file', path: image }, { cacheDir }), {
    kind: 'kernel',
    where: `${image} (config ${join(tree, '.config')})`,
    message: 'kernel config lacks CONFIG_USERFAULTFD (not set; needed for the userfaultfd syscall under test)',
  });
});

t.test('the host kernel', async (t) => {
  const kernel = await resolveKernel({ kind: 'host' }, { cacheDir });
  t.same({ label: kernel.label, spec: kernel.spec, image: kernel.image, release: kernel.release }, { label: 'host', spec: 'host', image: null, release: release() });
  t.match(kernel.id, /^host-[0-9a-f]{24}$/);
});

t.test('unknown Debian packages fail with the fix', async (t) => {
  await t.rejects(resolveMetaPackage('faultline-no-such-package'), {
    kind: 'kernel',
    where: 'debian:faultline-no-such-package',
    message: 'package faultline-no-such-package is not in the apt package lists',
    hint: 'check the name with apt-cache search linux-image',
  });
  await t.rejects(fetchDebianKernel('linux-image-0.0.0-99-none', { cacheDir }), {
    kind: 'kernel',
    where: 'debian:linux-image-0.0.0-99-none',
    message: 'apt-get download linux-image-0.0.0-99-none failed: E: Unable to locate package linux-image-0.0.0-99-none',
    hint: 'check the name with apt-cache search linux-image, or run apt-get update',
  });
});

// The one test that downloads: every other test shares the user's cached copy (fixtures/host.ts).
t.test('a Debian kernel is downloaded once, then found by its meta package', async (t) => {
  const pkg = await defaultKernelPackage();
  t.match(pkg, /^linux-image-6\.\d+\.\d+-\d+-cloud-amd64$/);
  const kernel = await resolveKernel({ kind: 'debian', package: pkg }, { cacheDir });
  t.equal(kernel.cached, false);
  t.equal(kernel.label, pkg.slice('linux-image-'.length));
  t.equal(kernel.release, kernel.label);
  t.match(kernel.id, /^deb-[0-9a-f]{24}$/, 'known by the package\'s bytes')
  t.equal(kernel.config?.get('CONFIG_USERFAULTFD'), 'y');
  const again = await resolveKernel({ kind: 'debian', package: 'linux-image-cloud-amd64' }, { cacheDir });
  t.same(again, { ...kernel, spec: 'debian:linux-image-cloud-amd64', cached: true }, 'the meta package finds the cached kernel');
});
