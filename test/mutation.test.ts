import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildHelper } from '../runner/helper/build.js';
import { projectRoot } from '../runner/core/paths.js';
import { compileSuites } from '../runner/suite/compile.js';
import { loadSuite } from '../runner/suite/load.js';

// A case that cannot tell a broken kernel from a working one is not a case. Until a broken
// kernel can be built (patched sources), the next best proof: change each thing a case checks
// (flags, errno, result field, thread outcome, contents, pagemap) as if the kernel answered
// otherwise, and every such mutant must fail on the real running kernel.
const mutations: [RegExp, (m: RegExpExecArray) => string][] = [
  [/ flags=([A-Z|0]+)/, (m) => ` flags=${m[1] === 'MINOR' ? 'MINOR|WRITE' : m[1] === '0' ? 'WRITE' : '0'}`],
  [/ type=(PAGEFAULT|REMOVE|REMAP|UNMAP)/, (m) => ` type=${m[1] === 'REMOVE' ? 'PAGEFAULT' : 'REMOVE'}`],
  // an UNMAP an mremap sends is at the pages' old place, not their new one
  [/ old=1/, () => ' old=0'],
  [/ expect_errno=E[A-Z]+/, () => ''],
  [/ result=len/, () => ' result=untouched'],
  [/ result=errno:(E[A-Z]+)/, (m) => ` result=errno:${m[1] === 'EEXIST' ? 'EFAULT' : 'EEXIST'}`],
  // done and sigbus both end the thread, so the mutant stays a valid plan.
  [/ expect=(done|sigbus)/, (m) => ` expect=${m[1] === 'done' ? 'sigbus' : 'done'}`],
  [/ value=(\d+)/, (m) => ` value=${Number(m[1]) ^ 0xff}`],
  [/^check (.*) byte=(\d+)/, (m) => `check ${m[1]} byte=${Number(m[2]) ^ 0xff}`],
  [/ present=([01]+)/, (m) => ` present=${m[1]!.startsWith('1') ? '0' : '1'}${m[1]!.slice(1)}`],
];

t.test('every checked expectation of the shipped suites fails when the kernel answers otherwise', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'faultline-mutation-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const helper = await buildHelper({ headersDir: null, cacheDir: join(scratch, 'cache') });
  const suites = await Promise.all(['minor-faults.yaml', 'missing-faults.yaml', 'remap-events.yaml', 'thp-collapse.yaml'].map((f) => loadSuite(join(projectRoot, 'suites', f))));
  const original = compileSuites(suites);

  // Which cases pass unmutated here: only those can show a mutant failing.
  const baseline = await runPlan(helper.path, original, join(scratch, 'baseline.plan'));
  const passing = new Set([...baseline.entries()].filter(([, ok]) => ok === 'ok').map(([name]) => name));
  t.ok(passing.size >= 20, `${passing.size} cases pass unmutated on this kernel`);

  const mutants = mutate(original, passing);
  t.ok(mutants.count >= passing.size, `${mutants.count} mutants`);
  const outcome = await runPlan(helper.path, mutants.plan, join(scratch, 'mutants.plan'));
  const survivors = [...outcome.entries()].filter(([, ok]) => ok !== 'not ok').map(([name]) => `${name} (${mutants.describe.get(name)})`);
  t.same(survivors, [], 'no mutant passes');
  t.equal(outcome.size, mutants.count, 'every mutant reported');
});

/** One mutant case per mutation of each line of each passing case, named case.mLINE.KIND. */
function mutate(plan: string, passing: Set<string>): { plan: string; count: number; describe: Map<string, string> } {
  const out: string[] = ['plan 1'];
  const describe = new Map<string, string>();
  let suite = '';
  let block: string[] = [];
  const flush = () => {
    const name = block[0]!.slice('case '.length);
    if (!passing.has(`${suite}/${name}`)) return;
    block.forEach((line, i) => {
      mutations.forEach(([pattern, replace], k) => {
        const m = pattern.exec(line);
        if (!m || !/ line=\d+$/.test(line)) return;
        const id = `${name}.m${i}.${k}`;
        const changed = line.replace(pattern, replace(m));
        if (changed === line) throw new Error(`mutation ${k} leaves "${line}" unchanged`);
        describe.set(`${suite}/${id}`, `${line.trim()}  ->  ${changed.trim()}`);
        out.push(`case ${id}`, ...block.slice(1, i), changed, ...block.slice(i + 1).map((l) => (l.startsWith('timeout_ms') ? 'timeout_ms 4000' : l)));
      });
    });
  };
  for (const line of plan.split('\n')) {
    if (line.startsWith('suite ')) {
      suite = line.slice('suite '.length);
      out.push(line);
    } else if (line.startsWith('case ')) block = [line];
    else if (line === 'end') {
      block.push(line);
      flush();
      block = [];
    } else if (block.length) block.push(line);
  }
  // Suites left without a mutant would be empty subtests; drop their headers.
  const text = out.filter((l, i) => !(l.startsWith('suite ') && (out[i + 1] === undefined || out[i + 1]!.startsWith('suite ')))).join('\n');
  return { plan: `${text}\n`, count: describe.size, describe };
}

async function runPlan(helper: string, plan: string, file: string): Promise<Map<string, 'ok' | 'not ok' | 'skip'>> {
  writeFileSync(file, plan);
  const run = await execa(helper, ['run', file], { reject: false });
  const results = new Map<string, 'ok' | 'not ok' | 'skip'>();
  if (run.exitCode === 2) throw new Error(`the helper rejected ${file}: ${run.stderr}`);
  let suite = '';
  for (const line of run.stdout.split('\n')) {
    const header = /^# Subtest: (\S+)/.exec(line);
    if (header) suite = header[1]!;
    const point = /^ {4}(ok|not ok) \d+ - (\S+)(.*)$/.exec(line);
    if (point) results.set(`${suite}/${point[2]}`, / # SKIP/.test(point[3]!) ? 'skip' : (point[1] as 'ok' | 'not ok'));
  }
  return results;
}
