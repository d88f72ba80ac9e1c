import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { GuestLedger } from '../runner/guest/ledger.js';
import { ResultStore } from '../runner/model/store.js';
import { compileUnits } from '../runner/sources/plan.js';
import { kselftestCases, kselftestUnits, type KselftestInfo } from '../runner/sources/kselftest/source.js';
import { kselftestSizes } from '../runner/sources/kselftest/sizes.js';

// A selftest run is one unit in the guest and several cases in the run: its TAP point and the
// console it printed (each program line echoed as `faultline-out:`) go through the real ledger.
// A kernel report belongs to the test x memory type whose "Testing" line came last.
const info: KselftestInfo = {
  generation: 'mm-uffd',
  runs: [{ type: 'shmem', size: 20, bounces: 16 }],
  unitTests: [{ name: 'minor', mems: ['shmem', 'hugetlb'] }, { name: 'minor-wp', mems: ['shmem'] }],
  timeoutMs: 180_000,
  what: "Debian's linux-source-6.12",
};
const cases = kselftestCases(info);
const sizes = kselftestSizes('tcg', {});
const place = { cwd: '/faultline/kselftest', hugetlbfs: '/dev/hugepages' };
const warning = readFileSync(join(import.meta.dirname, 'fixtures', 'console', 'warning.log'), 'utf8').split('\n');
const splat = warning.slice(warning.findIndex((l) => l.includes('cut here')), warning.findIndex((l) => l.includes('end trace')) + 1);

/** `echoed`: the console's program lines when they differ from the output (a line the program
 * flushed before its newline is echoed in two parts). */
function run(program: string[], report: { after: string; unended?: true } | null, ended: string, status: string, echoed = program) {
  const { units } = kselftestUnits(info, cases.filter((c) => c.case.startsWith('unit-minor')), sizes, place);
  const unit = units[0]!;
  const store = new ResultStore({ command: [], kernels: [{ spec: 'k', role: null }], cases });
  const ledger = new GuestLedger('k', units, { report: (r) => store.record(r), has: (ref) => store.has('k', ref) });
  const mark = (what: string) => ledger.consoleLine(`[    6.1] faultline: case ${unit.ref.suite}/${unit.ref.case} ${what}`);
  mark('begin');
  for (const line of echoed) {
    ledger.consoleLine(`[    6.2] faultline-out: ${line}`);
    if (report && line === report.after) (report.unended ? splat.slice(0, -1) : splat).forEach((l) => ledger.consoleLine(l));
  }
  mark('end');
  const output = Buffer.from(`${program.join('\n')}\n`).toString('base64');
  ledger.resultChunk(`TAP version 14\n# Subtest: ${unit.ref.suite}\n    1..1\n    ${status === 'pass' ? 'ok' : 'not ok'} 1 - ${unit.ref.case} # time=900ms\n      ---\n      status: ${status}\n      ended: "${ended}"\n      dropped: 0\n      output: "${output}"\n      ...\n`);
  ledger.end();
  return { unit, results: store.model.results };
}

const program = ['Testing minor on shmem... done', 'Testing minor on hugetlb... done', 'Testing minor-wp on shmem... done', 'Userfaults unit tests: pass=3, skip=0, fail=0 (total=3)'];

t.test('one program run for the filtered tests: -f with their shared name, one case each', async (t) => {
  const { unit, results } = run(program, null, 'exit 0', 'pass');
  t.same((unit as { exec?: { argv: string[] } }).exec?.argv, ['./uffd-unit-tests', '-f', 'minor']);
  t.match(compileUnits([], [unit], 4), /^case unit-tests-minor\ntimeout_ms 720000\nexec cwd=\/faultline\/kselftest\narg \.\/uffd-unit-tests\narg -f\narg minor\nend$/m, 'the settings timeout, x4 under TCG');
  t.same(results.map((r) => `${r.case} ${r.status}`), ['unit-minor-shmem pass', 'unit-minor-hugetlb pass', 'unit-minor-wp-shmem pass']);
});

t.test('a kernel warning while "minor on hugetlb" ran fails that case alone', async (t) => {
  const { results } = run(program, { after: 'Testing minor on hugetlb... done' }, 'exit 0', 'pass');
  t.same(results.map((r) => `${r.case} ${r.status}`), ['unit-minor-shmem pass', 'unit-minor-hugetlb fail', 'unit-minor-wp-shmem pass']);
  const hugetlb = results.find((r) => r.case === 'unit-minor-hugetlb')!;
  t.match(hugetlb.reason, /^kernel warning: WARNING: CPU: 0 PID: 37 at drivers\/misc\/lkdtm\/bugs\.c:85/);
  t.equal(hugetlb.reports?.length, 1);
});

t.test('a report while a test runs goes to it: its "done" not on the console yet, the report read to its end only later', async (t) => {
  const echoed = ['Testing minor on shmem... done', 'Testing minor on hugetlb... ', 'done', 'Testing minor-wp on shmem... done', program[3]!];
  // Without its end-of-trace line the report is only complete at the case's end mark, after the
  // next tests' lines: it still belongs to the test that was running when it began.
  const { results } = run(program, { after: 'Testing minor on hugetlb... ', unended: true }, 'exit 0', 'pass', echoed);
  t.same(results.map((r) => `${r.case} ${r.status}`), ['unit-minor-shmem pass', 'unit-minor-hugetlb fail', 'unit-minor-wp-shmem pass']);
});

t.test('a guest that dies mid-run: its console is the output, the test it was in crashes, the rest never ran', async (t) => {
  const { unit } = run([], null, 'exit 0', 'pass');
  const store = new ResultStore({ command: [], kernels: [{ spec: 'k', role: null }], cases });
  const { units } = kselftestUnits(info, cases.filter((c) => c.case.startsWith('unit-minor')), sizes, place);
  const ledger = new GuestLedger('k', units, { report: (r) => store.record(r), has: (ref) => store.has('k', ref) });
  ledger.consoleLine(`faultline: case ${unit.ref.suite}/${unit.ref.case} begin`);
  ledger.consoleLine('faultline-out: Testing minor on shmem... done');
  ledger.consoleLine('faultline-out: Testing minor on hugetlb...');
  ledger.end();
  t.same(ledger.unfinished(), { ref: unit.ref, ended: false });
  ledger.reportUnfinished(unit.ref, { status: 'crash', cause: 'guest-died', detail: 'the guest died during this case: the kernel panicked' }, 1000);
  t.same(store.model.results.map((r) => `${r.case} ${r.status} ${r.filled ?? 'reported'}`), ['unit-minor-shmem pass reported', 'unit-minor-hugetlb crash guest-died', 'unit-minor-wp-shmem error guest-died'], 'what the program said is its report; the rest is filled');
  t.match(store.model.results[2]!.reason, /^not reached: uffd-unit-tests stopped in "minor on hugetlb"/);
});
