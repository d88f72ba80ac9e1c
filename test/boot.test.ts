import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildBaseImage, planArchive } from '../images/initramfs.js';
import { gzipCpio, writeCpio } from '../images/cpio.js';
import { bootGuest } from '../runner/qemu/boot.js';
import { defaultGuestConfig } from '../runner/qemu/guest-config.js';
import { buildStandInHelper } from './fixtures/guest/stand-in.js';
import { defaultKernel, hostAccel } from './fixtures/host.js';

// Real Debian kernel, real QEMU, real busybox: the whole guest path end to end, under the
// accelerator the run would choose on this host (test/accel.test.ts covers every kind of host).
const cacheDir = mkdtempSync(join(tmpdir(), 'faultline-boot-cache-'));
const work = mkdtempSync(join(tmpdir(), 'faultline-boot-'));
t.teardown(() => {
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

t.test('boots the default Debian kernel and carries TAP on the result channel', async (t) => {
  const kernel = await defaultKernel();
  t.match(kernel.label, /^6\.\d+\.\d+-\d+-cloud-amd64$/);
  t.equal(kernel.release, kernel.label);
  t.equal(kernel.config?.get('CONFIG_USERFAULTFD'), 'y');
  const { kind, choice: accel } = await hostAccel();
  t.comment(`host kind "${kind}": ${accel.reason}`);

  const image = await buildBaseImage({ helperPath: await buildStandInHelper(), cacheDir });
  const initrd = join(work, 'initrd.img');
  writeFileSync(initrd, Buffer.concat([readFileSync(image.path), planArchive('plan 1\nsuite boot-test\n')]));
  const consoleLog = join(work, 'console.log');
  const lines: string[] = [];
  let result = '';
  let started: string[] = [];
  const boot = await bootGuest({
    kernel: kernel.image!,
    initrd,
    accel: accel.accel,
    hugepages: 2,
    consoleLog,
    timeoutMs: 120_000,
    onStart: (argv) => (started = argv),
    onConsoleLine: (line) => lines.push(line),
    onResult: (chunk) => (result += chunk),
  });
  t.comment(`boot took ${boot.ms} ms: ${boot.argv.join(' ')}`);
  t.same(started, boot.argv);
  t.equal(boot.argv[boot.argv.indexOf('-M') + 1], 'microvm', 'microvm by default (under TCG with the x86-64 host\'s TSC rate)');
  t.equal(boot.timedOut, false);
  t.equal(boot.exitCode, 0);
  t.equal(boot.agentExit, 0);
  const log = readFileSync(consoleLog, 'utf8');
  t.match(log, /Linux version 6\./);
  t.match(log, /faultline: hugepages 2 of 2 reserved/);
  t.ok(lines.includes('faultline: agent ready'));
  t.ok(lines.includes('faultline: agent done rc=0'));
  t.equal(result, 'TAP version 14\n# plan: plan 1\nok 1 - stand-in helper ran\n1..1\n', 'raw TAP, no carriage returns, plan segment unpacked');
  t.notMatch(log, /stand-in helper ran/, 'results stay off the console');
});

t.test('the watchdog kills a guest that never finishes', async (t) => {
  const kernel = await defaultKernel();
  const boot = await bootGuest({ kernel: kernel.image!, initrd: null, accel: 'tcg', guest: { ...defaultGuestConfig, append: ['panic=0'] }, timeoutMs: 1500 });
  t.equal(boot.timedOut, true);
  t.equal(boot.exitCode, null);
  t.ok(boot.ms < 6000);
});

t.test('a guest that never ends after the agent said it was done is stopped, not waited for', async (t) => {
  const kernel = await defaultKernel();
  const init = '#!/bin/busybox sh\n/bin/busybox echo "faultline: agent done rc=0"\nexec /bin/busybox sleep 1000\n';
  const initrd = join(work, 'done-then-stuck.img');
  writeFileSync(initrd, gzipCpio(writeCpio([
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: readFileSync('/bin/busybox') },
    { type: 'file', path: 'init', mode: 0o755, data: Buffer.from(init) },
  ])));
  const boot = await bootGuest({ kernel: kernel.image!, initrd, accel: 'tcg', resultChannel: false, timeoutMs: 300_000 });
  t.equal(boot.agentExit, 0);
  t.equal(boot.stoppedAfterDone, true);
  t.equal(boot.timedOut, false);
});

t.test('an abort signal stops QEMU', async (t) => {
  const kernel = await defaultKernel();
  const stop = new AbortController();
  const boot = await bootGuest({
    kernel: kernel.image!,
    initrd: null,
    accel: 'tcg',
    timeoutMs: 60_000,
    signal: stop.signal,
    onConsoleLine: (line) => {
      if (line.includes('Linux version')) stop.abort();
    },
  });
  t.equal(boot.aborted, true);
  t.equal(boot.timedOut, false);
  t.equal(boot.exitCode, null);
  t.ok(boot.consoleBytes > 0);
});

t.test('QEMU failing to start is a boot error carrying its message', async (t) => {
  const missing = join(work, 'no-such-kernel');
  await t.rejects(bootGuest({ kernel: missing, initrd: null, accel: 'tcg', timeoutMs: 10_000 }), {
    kind: 'boot',
    message: `QEMU failed to start the guest (exit 1): qemu: could not open kernel file '${missing}': No such file or directory`,
  });
});
