// Benchmark: `faultline compare` and every report of `faultline report` on saved runs of 50k
// results (the size a matrix of kselftests over many kernels reaches), through the real CLI.
// The runs are generated: a run of one kernel, a baseline comparison of two kernels, and two
// runs of one kernel each whose cases are disjoint (the worst case for compare: every case is
// new or removed). Two suites, so JUnit's groups of (kernel, suite) are large too.
// Usage: node dist/bench/report-scale.js [results] [rounds] [only: commands whose name has this]
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../runner/core/paths.js';
import { ResultStore } from '../runner/model/store.js';
import type { CaseResult, CaseStatus, KernelRecord, PlannedCase } from '../runner/model/types.js';
import { saveFinishedRun } from '../test/fixtures/model.js';
import { row, timed } from './baseline.js';

const total = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 1);
const only = process.argv[4] ?? '';
const cli = join(projectRoot, 'dist', 'runner', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-bench-scale-'));

const kernel = (id: string, index: number, role: KernelRecord['role']): KernelRecord => ({ id, label: id, index, spec: `debian:linux-image-${id}`, role, release: id, accel: 'tcg', timeoutScale: 4, dir: '' });

/** Mostly passes, with every other status among them, as a large matrix has. */
function outcome(kernelId: string, c: PlannedCase, i: number): CaseResult {
  const status: CaseStatus = i % 50 === 7 ? 'fail' : i % 50 === 13 ? 'skip' : i % 200 === 21 ? 'crash' : i % 500 === 33 ? 'timeout' : 'pass';
  const reason = status === 'pass' ? null : status === 'skip' ? 'needs kernel 6.4 or newer' : `expected errno EEXIST, got EAGAIN (${i % 7})\nsecond line`;
  return {
    kernel: kernelId, suite: c.suite, case: c.case, status, reason, durationMs: i % 90,
    ...(status === 'skip' ? { skipCause: 'release' as const } : {}),
    ...(status === 'crash' ? { reports: [{ kind: 'oops' as const, title: 'BUG: kernel NULL pointer dereference, address: 0000000000000008', text: 'BUG: kernel NULL pointer dereference, address: 0000000000000008\nRIP: 0010:mfill_atomic+0x1a/0x2b0\nCall Trace:\n <TASK>\n mfill_atomic_continue+0x19/0x1d\n userfaultfd_ioctl+0x6b1/0x1c30\n </TASK>', fatal: true }] } : {}),
  };
}

/** A results directory holding a run of `kernels`, each with every case, compared pairwise. */
function saveRun(name: string, kernels: KernelRecord[], cases: PlannedCase[], pairs: [number, number][]): string {
  const store = new ResultStore({ command: ['faultline', 'run'], kernels: kernels.map((k) => ({ spec: k.spec, role: k.role })), cases, pairs, startedAt: new Date('2026-11-28T10:00:00Z') });
  for (const k of kernels) store.addKernel(k);
  // The candidate fails what the baseline passed now and then: regressions to report.
  kernels.forEach((k, n) => cases.forEach((c, i) => store.record(outcome(k.id, c, i + n * 3))));
  const dir = join(work, name);
  saveFinishedRun(store, dir, new Date('2026-11-28T10:30:00Z'));
  return dir;
}

const casesOf = (prefix: string, n: number): PlannedCase[] => Array.from({ length: n }, (_, i) => ({ suite: `suite-${i % 2}`, case: `${prefix}-${i}`, file: 'suites/scale.yaml', line: 10 + (i % 900) }));
const single = saveRun('single', [kernel('6.1.0-56-cloud-amd64', 0, null)], casesOf('case', total), []);
const baseline = saveRun('baseline', [kernel('6.1.0-55-cloud-amd64', 0, 'baseline'), kernel('6.1.0-56-cloud-amd64', 1, 'candidate')], casesOf('case', total / 2), [[0, 1]]);
const disjointA = saveRun('disjoint-a', [kernel('6.1.0-56-cloud-amd64', 0, null)], casesOf('a', total), []);
const disjointB = saveRun('disjoint-b', [kernel('6.1.0-56-cloud-amd64', 0, null)], casesOf('b', total), []);
const sameB = saveRun('same-b', [kernel('6.1.0-57-cloud-amd64', 0, null)], casesOf('case', total), []);

const all: [string, string[], NodeJS.ProcessEnv?][] = [
  [`compare: ${total} x ${total} results, disjoint cases`, ['compare', disjointA, disjointB]],
  [`compare: ${total} x ${total} results, the same cases`, ['compare', single, sameB]],
  [`report (terminal): ${total} results, one kernel`, ['report', single]],
  [`report --tap: ${total} results, one kernel`, ['report', single, '--tap']],
  [`report --junit: ${total} results, one kernel`, ['report', single, '--junit', join(work, 'single.xml')]],
  [`report --html: ${total} results, one kernel`, ['report', single, '--html', join(work, 'single.html')]],
  [`report --github: ${total} results, one kernel`, ['report', single, '--github'], { GITHUB_STEP_SUMMARY: join(work, 'single-summary.md') }],
  [`report --json: ${total} results, one kernel`, ['report', single, '--json', join(work, 'single.json')]],
  [`report --junit --html --github: ${total} results, baseline and candidate`, ['report', baseline, '--junit', join(work, 'baseline.xml'), '--html', join(work, 'baseline.html'), '--github'], { GITHUB_STEP_SUMMARY: join(work, 'baseline-summary.md') }],
];
const runs = all.filter(([name]) => name.includes(only));

const times = runs.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  for (const [i, [, args, env]] of runs.entries()) {
    times[i]!.push(await timed(async () => {
      // Exit 1 is the runs' verdict (they hold failures); anything else is the bench failing.
      const run = await execa('node', [cli, ...args], { env: { CI: 'true', ...env }, reject: false, stdout: 'ignore', stderr: 'pipe' });
      if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(`faultline ${args.join(' ')} exited ${run.exitCode}:\n${run.stderr}`);
    }));
  }
}
rmSync(work, { recursive: true, force: true });

console.log(`${rounds} round${rounds === 1 ? '' : 's'}, each command a fresh node process (its start-up included)`);
console.log('| command | median | range |\n|---|---|---|');
for (const [i, [name]] of runs.entries()) console.log(row(name, times[i]!));
