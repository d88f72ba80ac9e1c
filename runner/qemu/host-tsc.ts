import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from '../core/env.js';
import { findTool } from '../core/tools.js';

// Under TCG a guest's TSC is the host's own counter, so it ticks at the host's TSC rate. A
// microvm guest has no HPET or ACPI PM timer to measure that rate against, and its PIT
// measurement fails when the host preempts QEMU mid-loop; telling the kernel the rate
// (tsc_early_khz=) is what makes microvm boots under TCG reliable (see argv.ts).

// Pairs (TSC, CLOCK_MONOTONIC_RAW) 50 ms apart; each pair is the tightest of 50 tries, so a
// preemption between the two reads cannot skew it.
const probeSource = `#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>
static void pair(uint64_t *ns, uint64_t *tsc) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 50; i++) {
    struct timespec t;
    uint64_t a = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    uint64_t b = __rdtsc();
    if (b - a < best) { best = b - a; *tsc = a + (b - a) / 2; *ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec; }
  }
}
int main(void) {
  uint64_t n0, t0, n1, t1;
  struct timespec gap = { 0, 50000000 };
  pair(&n0, &t0);
  nanosleep(&gap, NULL);
  pair(&n1, &t1);
  printf("%llu\\n", (unsigned long long)((t1 - t0) * 1000000u / (n1 - n0)));
  return 0;
}
`;

const known = new Map<string, Promise<number | null>>();

/** The host's TSC rate in kHz, measured once per host boot (kept in the cache under the boot
 * id); null where it cannot be measured (not x86-64, no gcc), and then microvm is not chosen
 * under TCG. */
export function hostTscKhz(cacheDir: string): Promise<number | null> {
  let khz = known.get(cacheDir);
  if (!khz) known.set(cacheDir, (khz = measuredOnce(cacheDir)));
  return khz;
}

async function measuredOnce(cacheDir: string): Promise<number | null> {
  if (arch() !== 'x64') return null;
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const file = bootId ? join(cacheDir, 'host-tsc', `${bootId}.json`) : null;
  if (file) {
    const cached = await readFile(file, 'utf8').then((t) => (JSON.parse(t) as { khz?: unknown }).khz, () => null);
    if (typeof cached === 'number' && plausible(cached)) return cached;
  }
  const khz = await measure(cacheDir);
  if (khz !== null && file) {
    await mkdir(join(file, '..'), { recursive: true })
      .then(() => writeFile(`${file}.${process.pid}.tmp`, `${JSON.stringify({ khz })}\n`))
      .then(() => rename(`${file}.${process.pid}.tmp`, file))
      .catch(() => undefined); // an unwritable cache only costs the next run another measurement
  }
  return khz;
}

async function measure(cacheDir: string): Promise<number | null> {
  if (!(await findTool('gcc'))) return null;
  await mkdir(cacheDir, { recursive: true }).catch(() => undefined);
  const dir = await mkdtemp(join(cacheDir, '.host-tsc-')).catch(() => null);
  if (!dir) return null;
  try {
    const program = join(dir, 'tsc-rate');
    const built = await execa('gcc', ['-O2', '-x', 'c', '-o', program, '-'], { input: probeSource, reject: false, env: cLocaleEnv() });
    if (built.exitCode !== 0) return null;
    const run = await execa(program, [], { reject: false, stdin: 'ignore' });
    const khz = Number(run.stdout.trim());
    return run.exitCode === 0 && plausible(khz) ? khz : null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A TSC between 100 MHz and 10 GHz; anything else is a broken measurement. */
export const plausible = (khz: number): boolean => Number.isInteger(khz) && khz >= 100_000 && khz <= 10_000_000;
