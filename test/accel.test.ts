import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chooseAccel, kvmDeviceProblem, PROBE_TIMEOUT_MS } from '../runner/qemu/accel.js';
import { rejectsExactly } from './fixtures/errors.js';
import { defaultKernel, hostAccel } from './fixtures/host.js';

// Every kind of host the project meets, exercised on whichever host runs this: the KVM device
// path and the probe's QEMU are pointed at stand-ins (a missing path, a file this user cannot
// open, the real QEMU under wrappers that hang, answer or refuse), then this host itself.
const work = mkdtempSync(join(tmpdir(), 'faultline-accel-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const wrappers = join(import.meta.dirname, 'fixtures', 'accel');
const openable = join(work, 'kvm-stand-in');
writeFileSync(openable, '');
let image = '';
t.before(async () => {
  image = (await defaultKernel()).image!;
});
const freshCache = (name: string) => mkdtempSync(join(work, `${name}-`));

t.test('host kind "no KVM device": TCG at once, nothing probed or cached; --accel kvm is refused', async (t) => {
  const host = { device: join(work, 'no-kvm') };
  const cache = freshCache('absent');
  for (const round of ['first', 'second']) {
    const choice = await chooseAccel('auto', image, cache, host);
    t.same(choice, { accel: 'tcg', reason: `${host.device} does not exist; using TCG`, probeMs: 0, cached: false }, `${round} call`);
  }
  await rejectsExactly(t, chooseAccel('kvm', image, cache, host), {
    kind: 'usage',
    exitCode: 2,
    message: `--accel kvm: ${host.device} does not exist`,
    hint: 'use --accel auto or --accel tcg',
  });
});

t.test('host kind "KVM device not accessible": TCG at once, naming the device', async (t) => {
  const device = join(work, 'kvm-root-only');
  writeFileSync(device, '');
  chmodSync(device, process.geteuid?.() === 0 ? 0o600 : 0o000);
  // As root, the check is made as an ordinary user would make it (root opens anything).
  const asUser = async <T>(work: () => Promise<T>): Promise<T> => {
    if (process.geteuid?.() !== 0) return work();
    process.seteuid!(65534);
    try {
      return await work();
    } finally {
      process.seteuid!(0);
    }
  };
  t.equal(await asUser(() => kvmDeviceProblem(device)), `${device} is not accessible to this user`);
  const cache = freshCache('inaccessible');
  const choice = await asUser(() => chooseAccel('auto', image, cache, { device }));
  t.same(choice, { accel: 'tcg', reason: `${device} is not accessible to this user; using TCG`, probeMs: 0, cached: false });
});

t.test('host kind "KVM that hangs" (the real QEMU, its CPU never started): TCG after the probe, then cached', async (t) => {
  const host = { device: openable, qemu: join(wrappers, 'qemu-kvm-hangs') };
  const cache = freshCache('hangs');
  const started = performance.now();
  const first = await chooseAccel('auto', image, cache, host);
  const ms = performance.now() - started;
  t.same({ accel: first.accel, reason: first.reason, cached: first.cached }, {
    accel: 'tcg',
    reason: `KVM probe showed no kernel output within ${PROBE_TIMEOUT_MS} ms; using TCG`,
    cached: false,
  });
  t.ok(ms >= PROBE_TIMEOUT_MS && ms < PROBE_TIMEOUT_MS + 4000, `the probe gave up after ${Math.round(ms)} ms`);
  const again = await chooseAccel('auto', image, cache, host);
  t.same(again, { accel: 'tcg', reason: `${first.reason} (probe cached for this host boot)`, probeMs: first.probeMs, cached: true });
});

t.test('host kind "KVM that fails" (the real QEMU refusing the accelerator): TCG with QEMU\'s own words', async (t) => {
  const choice = await chooseAccel('auto', image, freshCache('refused'), { device: openable, qemu: join(wrappers, 'qemu-kvm-refused') });
  t.equal(choice.accel, 'tcg');
  t.equal(choice.reason, 'KVM probe failed: QEMU failed to start the guest (exit 1): qemu-system-x86_64: -accel no-such-accel: invalid accelerator no-such-accel; using TCG');
});

t.test('host kind "working KVM" (the real QEMU answering the probe with the banner): KVM, then cached', async (t) => {
  const host = { device: openable, qemu: join(wrappers, 'qemu-kvm-works') };
  const cache = freshCache('works');
  const first = await chooseAccel('auto', image, cache, host);
  t.equal(first.accel, 'kvm', first.reason);
  t.match(first.reason, /^KVM probe printed the kernel banner in \d+ ms$/);
  t.equal(first.cached, false);
  const again = await chooseAccel('auto', image, cache, host);
  t.same(again, { accel: 'kvm', reason: `${first.reason} (probe cached for this host boot)`, probeMs: first.probeMs, cached: true });
  t.same(await chooseAccel('kvm', image, cache, host), { accel: 'kvm', reason: 'KVM requested', probeMs: 0, cached: false }, '--accel kvm is taken as given');
});

t.test('--accel tcg never looks at the device', async (t) => {
  t.same(await chooseAccel('tcg', image, freshCache('tcg'), { device: join(work, 'no-kvm') }), { accel: 'tcg', reason: 'TCG requested', probeMs: 0, cached: false });
});

t.test('this host', async (t) => {
  const host = await hostAccel();
  t.comment(`this host is of the kind "${host.kind}": ${host.choice.reason}`);
  const problem = await kvmDeviceProblem();
  // What the device is, seen without the code under test.
  let opened: string;
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    opened = 'opens';
  } catch (error) {
    opened = (error as NodeJS.ErrnoException).code ?? 'fails';
  }
  t.equal(problem === null, opened === 'opens', `the device check agrees with opening /dev/kvm (${opened})`);
  if (opened === 'ENOENT') t.equal(problem, '/dev/kvm does not exist');
  // A machine whose accelerator is known (a CI runner with nested KVM) can pin it.
  const pinned = process.env.FAULTLINE_EXPECT_ACCEL;
  if (pinned) t.equal(host.choice.accel, pinned, `FAULTLINE_EXPECT_ACCEL=${pinned}`);
  if (problem) {
    t.same(host.choice, { accel: 'tcg', reason: `${problem}; using TCG`, probeMs: 0, cached: false }, `${host.kind}: no probe`);
    t.equal(host.cachedOnRerun, false);
  } else {
    t.match(host.choice.reason, host.choice.accel === 'kvm' ? /^KVM probe printed the kernel banner/ : /^KVM probe (showed no kernel output|ended|failed)/, `${host.kind}: the probe decided`);
    t.equal(host.cachedOnRerun, true);
  }
});
