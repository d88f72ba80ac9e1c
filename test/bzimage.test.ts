import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bzImageRelease, bzImageVersionString, isBzImage } from '../kernels/bzimage.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { FaultlineError } from '../runner/core/errors.js';

/** A synthetic image: just the setup header fields the reader looks at. */
function fakeBzImage(version: string | null, protocol = 0x020f): Buffer {
  const buf = Buffer.alloc(0x1000);
  buf[0x1f1] = 7; // setup_sects
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(protocol, 0x206);
  if (version !== null) {
    const at = 0x600;
    buf.writeUInt16LE(at - 0x200, 0x20e);
    buf.write(version + '\0', at, 'latin1');
  }
  return buf;
}

t.test('reads the release from the kernel_version string', async (t) => {
  const image = fakeBzImage('6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2');
  t.ok(isBzImage(image));
  t.equal(bzImageRelease(image), '6.1.0-56-cloud-amd64');
  t.equal(bzImageVersionString(image), '6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2');
  t.equal(bzImageRelease(fakeBzImage('6.12.0-rc1+ (me@box) #3')), '6.12.0-rc1+');
});

t.test('no release when the header lacks one', async (t) => {
  t.equal(bzImageRelease(fakeBzImage(null)), null);
  t.equal(bzImageRelease(fakeBzImage('6.1.0', 0x0100)), null);
  t.equal(bzImageRelease(Buffer.from('\x7fELF not a bzImage')), null);
  t.notOk(isBzImage(Buffer.alloc(0x300)));
});

t.test('kernel specs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-spec-'));
  const good = join(dir, 'bzImage');
  writeFileSync(good, fakeBzImage('6.9.0 (x) #1'));
  const bad = join(dir, 'vmlinux');
  writeFileSync(bad, Buffer.from('\x7fELF'.padEnd(4096, '\0')));
  t.same(parseKernelSpec('host'), { kind: 'host' });
  t.same(parseKernelSpec('debian:linux-image-6.1.0-56-cloud-amd64'), { kind: 'debian', package: 'linux-image-6.1.0-56-cloud-amd64' });
  t.same(parseKernelSpec(good), { kind: 'file', path: good });
  const message = (text: string): string => {
    try {
      parseKernelSpec(text);
      return 'no error';
    } catch (error) {
      t.ok(error instanceof FaultlineError && error.kind === 'kernel');
      return (error as FaultlineError).describe();
    }
  };
  t.equal(
    message(join(dir, 'nope')),
    `kernel file ${join(dir, 'nope')} does not exist\n` +
      '  give the path of a bzImage (arch/x86/boot/bzImage or /boot/vmlinuz-*), a linux-image-*.deb, debian:<package>, or host',
  );
  t.equal(
    message(bad),
    `${bad} is not a bzImage (no "HdrS" boot header)\n` +
      '  give arch/x86/boot/bzImage, not vmlinux or a compressed module; or use debian:<package> or host',
  );
  t.equal(
    message('debian:Linux Image'),
    'debian:Linux Image: "Linux Image" is not a Debian package name\n' +
      '  write debian:<package>, e.g. debian:linux-image-cloud-amd64 or debian:linux-image-6.1.0-56-cloud-amd64',
  );
});
