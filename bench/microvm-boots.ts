// Benchmark: how often a TCG boot of the default Debian kernel hangs on `-M microvm` with
// faultline's fix (the host's TSC rate as tsc_early_khz=), without it, and on `-M pc`, and how
// long the boots that end take. Each boot runs an init that only reboots; a boot with no QEMU
// exit within the limit is a hang, and its last console line says where it stopped. The three
// kinds are interleaved so machine load hits them alike.
// Usage: node dist/bench/microvm-boots.js [boots=300] [withoutFix=30] [pcBoots=boots] [parallel=1] [limitS=40]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultKernelSpec } from '../kernels/default.js';
import { resolveKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { cacheDir } from '../runner/core/paths.js';
import { qemuArgv } from '../runner/qemu/argv.js';
import { defaultGuestConfig, type Machine } from '../runner/qemu/guest-config.js';
import { hostTscKhz } from '../runner/qemu/host-tsc.js';
import { median, rebootOnlyInitrd } from './baseline.js';

const [boots = 300, withoutFix = 30, pcBoots = boots, parallel = 1, limitS = 40] = process.argv.slice(2).map(Number);
const work = mkdtempSync(join(tmpdir(), 'faultline-microvm-'));
// The consoles of hung boots are kept for reading (printed at the end).
const hungDir = mkdtempSync(join(tmpdir(), 'faultline-microvm-hung-'));
const kernel = await resolveKernel(parseKernelSpec(await defaultKernelSpec()), { cacheDir: cacheDir() });
const initrd = await rebootOnlyInitrd(work);
const tscKhz = await hostTscKhz(cacheDir());
if (!tscKhz) throw new Error('cannot measure the host TSC rate here (needs x86-64 and gcc)');

type Kind = 'microvm + fix' | 'microvm, no fix' | 'pc';
interface Tally { ms: number[]; hangs: number; stops: Map<string, number> }
const tallies = new Map<Kind, Tally>((['microvm + fix', 'microvm, no fix', 'pc'] as const).map((k) => [k, { ms: [], hangs: 0, stops: new Map() }]));

// Spread the smaller samples evenly through the rounds.
const spread = (i: number, n: number) => Math.floor(((i + 1) * n) / boots) > Math.floor((i * n) / boots);
const jobs: Kind[] = [];
for (let i = 0; i < boots; i++) {
  jobs.push('microvm + fix');
  if (spread(i, pcBoots)) jobs.push('pc');
  if (spread(i, withoutFix)) jobs.push('microvm, no fix');
}

const started = performance.now();
let next = 0;
let done = 0;
await Promise.all(Array.from({ length: parallel }, async () => {
  while (next < jobs.length) {
    const kind = jobs[next++]!;
    await bootOnce(kind);
    if (++done % 25 === 0) process.stderr.write(`${done}/${jobs.length} boots, ${Math.round((performance.now() - started) / 1000)} s: ${[...tallies].map(([k, t]) => `${k} ${t.hangs} hung of ${t.hangs + t.ms.length}`).join(', ')}\n`);
  }
}));
rmSync(work, { recursive: true, force: true });

console.log(`kernel ${kernel.id}, TCG, host TSC ${tscKhz} kHz, ${parallel} boot(s) at once, hang = no exit within ${limitS} s`);
console.log('| machine | boots | hangs | median (ended boots) | range |\n|---|---|---|---|---|');
for (const [kind, t] of tallies) {
  const n = t.ms.length + t.hangs;
  if (n === 0) continue;
  const range = t.ms.length ? `${(Math.min(...t.ms) / 1000).toFixed(2)}–${(Math.max(...t.ms) / 1000).toFixed(2)} s` : '-';
  console.log(`| ${kind} | ${n} | ${t.hangs} | ${t.ms.length ? `${(median(t.ms) / 1000).toFixed(2)} s` : '-'} | ${range} |`);
}
for (const [kind, t] of tallies) {
  for (const [line, count] of t.stops) console.log(`${kind}: ${count} hung after "${line}`);
}
console.log(`consoles of hung boots: ${hungDir}`);

async function bootOnce(kind: Kind): Promise<void> {
  const machine: Machine = kind === 'pc' ? 'pc' : 'microvm';
  const args = qemuArgv({
    kernel: kernel.image!,
    initrd,
    accel: 'tcg',
    guest: { ...defaultGuestConfig, machine },
    result: null,
    hugepages: 0,
    tscKhz: kind === 'microvm + fix' ? tscKhz : null,
  });
  const t0 = performance.now();
  let lastOutput = t0;
  const child = execa('qemu-system-x86_64', args, { timeout: limitS * 1000, reject: false, stdin: 'ignore' });
  child.stdout.on('data', () => (lastOutput = performance.now()));
  const boot = await child;
  const ms = performance.now() - t0;
  const tally = tallies.get(kind)!;
  if (!boot.timedOut && /^booted/m.test(boot.stdout)) {
    tally.ms.push(ms);
    return;
  }
  if (!boot.timedOut) throw new Error(`${kind} boot ended without reaching init (exit ${boot.exitCode}):\n${boot.stdout.slice(-2000)}`);
  tally.hangs++;
  // A boot still printing near the limit was slow, not stuck: say how long the console was silent.
  const last = boot.stdout.trimEnd().split('\n').at(-1)?.replace(/^\[\s*[\d.]+\]\s*/, '').trim() || '(no output)';
  const where = `${last}" (console silent for its last ${Math.round((ms - (lastOutput - t0)) / 1000)} s)`;
  tally.stops.set(where, (tally.stops.get(where) ?? 0) + 1);
  writeFileSync(join(hungDir, `${kind.replace(/\W+/g, '-')}-${tally.hangs}.log`), boot.stdout);
}
