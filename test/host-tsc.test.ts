import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hostTscKhz, plausible } from '../runner/qemu/host-tsc.js';

// The real measurement with the real gcc: what a microvm guest under TCG is told its TSC runs at.
t.test('the host TSC rate is measured once per host boot and kept in the cache', { skip: arch() === 'x64' ? false : 'the probe reads an x86 TSC' }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'faultline-tsc-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const khz = await hostTscKhz(cache);
  t.ok(khz !== null && plausible(khz), `measured ${khz} kHz`);
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  t.same(readdirSync(join(cache, 'host-tsc')), [`${bootId}.json`], 'kept under the host boot id, nothing else left behind');
  t.same(JSON.parse(readFileSync(join(cache, 'host-tsc', `${bootId}.json`), 'utf8')), { khz });
  t.equal(readdirSync(cache).filter((f) => f.startsWith('.host-tsc-')).length, 0, 'the probe program is removed');
});

t.test('only a rate between 100 MHz and 10 GHz is believed', async (t) => {
  t.ok(plausible(2_596_149));
  t.notOk(plausible(0));
  t.notOk(plausible(99_999));
  t.notOk(plausible(12_000_000));
  t.notOk(plausible(2_596_149.5));
});
