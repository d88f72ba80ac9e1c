// Benchmark: the runner's memory and the bytes it writes for a large run. A synthetic matrix of
// K kernels x C cases goes through the engine, the store, the results directory (journal,
// run.json, results.tap), the terminal reporter and the reports written at the end (HTML, JUnit),
// as `faultline run --junit FILE --github` wires them; only the kernels and the guests are stand-ins: each kernel is
// "prepared" at once and each guest is a fake booter that prints, at once, what a real guest
// prints for its plan (boot lines, the agent's marks, each case's marks, program lines, now and
// then a kernel WARNING inside a case) and answers on its result channel in TAP 14.
// Bytes are counted as the process writes them (node:fs patched before the run; the ESM bindings
// are synced), by file: every rewrite of run.json counts whole.
// Usage: node dist/bench/run-scale.js                 two sizes in fresh processes, and their ratio
//        node dist/bench/run-scale.js KERNELS CASES   one run; prints its figures as JSON
import fs from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync as writeFile } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { caseMarkText, agentReadyLine, programLinePrefix } from '../runner/protocol/guest.js';

type Counted = 'run.json' | 'events.jsonl' | 'results.tap' | 'other';
const written: Record<Counted, number> = { 'run.json': 0, 'events.jsonl': 0, 'results.tap': 0, other: 0 };
const kindOf = (path: unknown): Counted => {
  const name = typeof path === 'string' ? basename(path).replace(/\.partial$/, '') : '';
  return name === 'run.json' || name === 'events.jsonl' || name === 'results.tap' ? name : 'other';
};
const size = (data: unknown): number => (typeof data === 'string' ? Buffer.byteLength(data) : ArrayBuffer.isView(data) ? data.byteLength : 0);

// Counted where the project calls node:fs; the calls node:fs makes inside itself
// (appendFileSync through writeFileSync, writeFileSync through openSync and writeSync) are not
// counted again.
function countWrites(): void {
  const fds = new Map<number, Counted>();
  let depth = 0;
  const counting = <F extends (...args: never[]) => unknown>(original: F, count: (...args: Parameters<F>) => void): F =>
    ((...args: Parameters<F>) => {
      if (depth === 0) count(...args);
      depth++;
      try {
        return original(...args);
      } finally {
        depth--;
      }
    }) as F;
  const byPath = (path: fs.PathOrFileDescriptor, data: unknown) => (written[typeof path === 'number' ? (fds.get(path) ?? 'other') : kindOf(path)] += size(data));
  const { openSync, closeSync } = fs;
  fs.writeFileSync = counting(fs.writeFileSync, byPath);
  fs.appendFileSync = counting(fs.appendFileSync, byPath);
  fs.writeSync = counting(fs.writeSync as (fd: number, data: unknown) => number, (fd, data) => (written[fds.get(fd) ?? 'other'] += size(data))) as typeof fs.writeSync;
  fs.openSync = ((...args: Parameters<typeof openSync>) => {
    const fd = openSync(...args);
    fds.set(fd, kindOf(String(args[0])));
    return fd;
  }) as typeof fs.openSync;
  fs.closeSync = ((fd: number) => {
    fds.delete(fd);
    closeSync(fd);
  }) as typeof fs.closeSync;
  syncBuiltinESMExports();
}

async function oneRun(kernelCount: number, caseCount: number): Promise<void> {
  countWrites();
  // Imported only now, after node:fs is patched (the bindings are live, but this keeps it plain).
  const { RunEvents } = await import('../runner/events.js');
  const { ResultStore } = await import('../runner/model/store.js');
  const { runMatrix } = await import('../runner/run.js');
  const { defaultGuestConfig } = await import('../runner/qemu/guest-config.js');
  const { loadSuites } = await import('../runner/suites.js');
  const { ResultsDirectory } = await import('../runner/results/results-dir.js');
  const { writeReports } = await import('../runner/results/final-reports.js');
  const { TerminalReporter } = await import('../runner/reporters/terminal.js');
  const { LineSplitter } = await import('../runner/qemu/lines.js');
  type Booter = import('../runner/qemu/boot.js').Booter;
  type KernelRecord = import('../runner/model/types.js').KernelRecord;
  type PreparedKernel = import('../runner/kernel-run.js').PreparedKernel;

  const work = mkdtempSync(join(tmpdir(), 'faultline-bench-run-scale-'));
  const suitesPerRun = 5;
  const suiteFiles = Array.from({ length: suitesPerRun }, (_, s) => {
    const file = join(work, `scale-${s}.yaml`);
    const cases = Array.from({ length: Math.ceil(caseCount / suitesPerRun) }, (_, i) => s + i * suitesPerRun).filter((i) => i < caseCount);
    writeFile(file, `suite: scale-${s}\ncases:\n${cases.map((i) => `  - name: case-${i}\n    description: open a userfaultfd (${i})\n    steps:\n      - open: {}\n`).join('')}`);
    return file;
  });
  const loaded = await loadSuites(suiteFiles);
  const base = join(work, 'base.img');
  writeFile(base, '');
  const kernels: KernelRecord[] = Array.from({ length: kernelCount }, (_, i) => ({ id: `k${i}`, label: `linux-${i}`, index: i, spec: `debian:linux-image-6.1.0-${i}-cloud-amd64`, role: null, release: `6.1.0-${i}-cloud-amd64`, accel: 'tcg', timeoutScale: 4, dir: `kernel-${i}` }));
  const resultsDir = join(work, 'results');
  fs.mkdirSync(resultsDir);
  const dir = new ResultsDirectory(resultsDir, null);
  const events = new RunEvents();
  const terminal = new TerminalReporter({ write: () => true, isTTY: false } as unknown as NodeJS.WriteStream);
  events.on((e) => dir.handle(e));
  events.on((e) => terminal.handle(e));
  const store = new ResultStore({ command: ['faultline', 'run', 'bench'], kernels: kernels.map((k) => ({ spec: k.spec, role: null })), cases: loaded.planned });
  const started = performance.now();
  const { exitCode } = await runMatrix(
    { loaded, kernels: kernels.map(() => ({ spec: { kind: 'host' as const }, role: null })), pairs: [], jobs: 2, shard: null, retries: 0, kselftestSizes: {} },
    { ...defaultGuestConfig, accel: 'tcg', tcgSlowdown: 4 },
    {
      store,
      events,
      cacheDir: work,
      kernelFiles: (d) => dir.kernelFiles(d),
      prepare: async (_o, slot): Promise<PreparedKernel> => {
        const record = kernels[slot.index]!;
        return { record, resolved: { id: record.id, label: record.label, spec: record.spec, image: 'fake', release: record.release, config: null, headersDir: null, cached: true }, helper: 'fake', baseImage: base, guestImage: { kind: 'busybox' }, rootfs: null, files: dir.kernelFiles(record.dir), selftests: null };
      },
      boot: fakeGuest,
    },
    resultsDir,
  );
  // The peak so far is the run's own; the reports written at its end (HTML, JUnit) come after.
  const runMaxRssMiB = +(process.resourceUsage().maxRSS / 1024).toFixed(1);
  const heapAfterRunMiB = +(process.memoryUsage().heapUsed / 1048576).toFixed(1);
  // As a CI run asks for them: the HTML report, JUnit and GitHub's annotations and step summary.
  await writeReports(store.model, resultsDir, { github: true, junit: join(work, 'junit.xml'), annotate: () => {}, env: { GITHUB_STEP_SUMMARY: join(work, 'summary.md') } });
  await dir.close();
  const ms = performance.now() - started;
  const results = store.model.results.length;
  const journalBytes = fs.existsSync(join(resultsDir, 'events.jsonl')) ? fs.statSync(join(resultsDir, 'events.jsonl')).size : 0;
  const runJsonBytes = fs.statSync(join(resultsDir, 'run.json')).size;
  rmSync(work, { recursive: true, force: true });
  console.log(JSON.stringify({ kernels: kernelCount, cases: caseCount, results, exitCode, ms: Math.round(ms), runMaxRssMiB, heapAfterRunMiB, maxRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1), written, runJsonBytes, journalBytes }));

  // The cases of the plan the session wrote beside the console, answered: 1 in 10 fails, 1 in 25
  // prints a kernel WARNING while it runs.
  async function fakeGuestImpl(opts: Parameters<Booter>[0]): Promise<Awaited<ReturnType<Booter>>> {
    const consoleLog = opts.consoleLog!;
    const planFile = join(dirname(consoleLog), basename(consoleLog).replace(/^console/, 'plan').replace(/\.log$/, '.txt'));
    const cases = planCases(fs.readFileSync(planFile, 'utf8'));
    const chunks: Buffer[] = [];
    let clock = 1;
    const stamp = () => `[${(clock++ / 1000).toFixed(6).padStart(12)}] `;
    const lines = new LineSplitter((line, span) => opts.onConsoleLine?.(line, span));
    const say = (text: string[]) => {
      const chunk = Buffer.from(text.map((l) => `${l}\n`).join(''));
      chunks.push(chunk);
      lines.write(chunk);
    };
    opts.onStart?.(['fake-guest', consoleLog]);
    say([`${stamp()}Linux version 6.1.0-fake-cloud-amd64 (bench) #1 SMP PREEMPT_DYNAMIC`, `${stamp()}Kernel command line: console=ttyS0 loglevel=6 panic=-1`, `${stamp()}Freeing unused kernel image (initmem) memory: 2000K`, agentReadyLine]);
    const bySuite = new Map<string, { name: string; ok: boolean; reason: string }[]>();
    cases.forEach(({ suite, name }, i) => {
      const n = Number(/(\d+)$/.exec(name)?.[1] ?? i);
      const ok = n % 10 !== 3;
      const warn = n % 25 === 7;
      say([
        `${stamp()}${caseMarkText({ suite, case: name }, 'begin')}`,
        `${stamp()}${programLinePrefix}opened a userfaultfd, API 0xaa, features 0x1ff`,
        ...(warn ? warning(stamp, 100 + i) : []),
        `${stamp()}${programLinePrefix}${ok ? 'done' : 'line 4: expected 0, got -1 (EAGAIN)'}`,
        `${stamp()}${caseMarkText({ suite, case: name }, 'end')}`,
      ]);
      const list = bySuite.get(suite) ?? [];
      list.push({ name, ok, reason: `line 4: ioctl API: expected 0, got -1 (EAGAIN) in ${name}` });
      bySuite.set(suite, list);
    });
    say(['faultline: agent done rc=0', `${stamp()}reboot: Restarting system`]);
    lines.end();
    fs.writeFileSync(consoleLog, Buffer.concat(chunks));
    opts.onExit?.();
    let tap = 'TAP version 14\n';
    [...bySuite].forEach(([suite, list], s) => {
      tap += `# Subtest: ${suite}\n    1..${list.length}\n`;
      list.forEach((c, i) => (tap += c.ok ? `    ok ${i + 1} - ${c.name} # time=5ms\n` : `    not ok ${i + 1} - ${c.name} # time=5ms\n      ---\n      status: fail\n      reason: "${c.reason}"\n      ...\n`));
      tap += `${list.every((c) => c.ok) ? 'ok' : 'not ok'} ${s + 1} - ${suite}\n`;
    });
    tap += `1..${bySuite.size}\n`;
    opts.onResult?.(tap);
    const consoleBytes = chunks.reduce((n, c) => n + c.length, 0);
    return { exitCode: 0, signal: null, timedOut: false, aborted: false, ms: 1, argv: ['fake-guest'], agentExit: 0, consoleBytes, stderr: '' };
  }
  function fakeGuest(opts: Parameters<Booter>[0]): ReturnType<Booter> {
    return fakeGuestImpl(opts);
  }
}

/** A kernel WARNING as the kernel prints one, from a task of the running case. */
function warning(stamp: () => string, pid: number): string[] {
  return [
    '------------[ cut here ]------------',
    `WARNING: CPU: 0 PID: ${pid} at mm/userfaultfd.c:123 mfill_atomic+0x1a/0x2b0`,
    `CPU: 0 PID: ${pid} Comm: faultline-helpe Not tainted 6.1.0-fake-cloud-amd64 #1`,
    'RIP: 0010:mfill_atomic+0x1a/0x2b0',
    'Call Trace:',
    ' <TASK>',
    ' userfaultfd_ioctl+0x6b1/0x1c30',
    ' __x64_sys_ioctl+0x8d/0xd0',
    ' </TASK>',
    '---[ end trace 0000000000000000 ]---',
  ].map((l) => `${stamp()}${l}`);
}

/** The (suite, case) names a compiled plan runs, in its order (`suite NAME`, then its `case NAME` lines). */
function planCases(plan: string): { suite: string; name: string }[] {
  const cases: { suite: string; name: string }[] = [];
  let suite = '';
  for (const line of plan.split('\n')) {
    const [op, name] = line.trim().split(/\s+/);
    if (op === 'suite') suite = name!;
    if (op === 'case') cases.push({ suite, name: name! });
  }
  return cases;
}

async function bothSizes(): Promise<void> {
  const sizes: [number, number][] = [[10, 500], [20, 500]];
  const figures: Record<string, number | string | Record<string, number>>[] = [];
  for (const [k, c] of sizes) {
    const run = await execa('/usr/bin/time', ['-f', '%M', process.execPath, process.argv[1]!, String(k), String(c)], { reject: false });
    if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(`run-scale ${k} ${c} exited ${run.exitCode}:\n${run.stderr}`);
    const line = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, number | string | Record<string, number>>;
    line.timeMaxRssMiB = +(Number(run.stderr.trim().split('\n').at(-1)) / 1024).toFixed(1);
    figures.push(line);
  }
  console.log('| kernels x cases | results | peak RSS (MiB) | peak RSS before the end reports (MiB) | heap after the run (MiB) | run.json bytes written | events.jsonl bytes | results.tap bytes | other bytes | wall (ms) |\n|---|---|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    const w = f.written as Record<string, number>;
    console.log(`| ${f.kernels} x ${f.cases} | ${f.results} | ${f.timeMaxRssMiB} | ${f.runMaxRssMiB} | ${f.heapAfterRunMiB} | ${w['run.json']} | ${w['events.jsonl']} | ${w['results.tap']} | ${w.other} | ${f.ms} |`);
  }
  const [a, b] = figures.map((f) => (f.written as Record<string, number>)['run.json']! + (f.written as Record<string, number>)['events.jsonl']!);
  console.log(`run.json + events.jsonl bytes, ${sizes[1]!.join(' x ')} / ${sizes[0]!.join(' x ')}: ${(b! / a!).toFixed(2)} (2.00 is linear, 4.00 quadratic)`);
}

if (process.argv.length >= 4) await oneRun(Number(process.argv[2]), Number(process.argv[3]));
else await bothSizes();
