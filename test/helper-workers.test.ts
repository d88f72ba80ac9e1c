import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { buildHelper } from '../runner/helper/build.js';
import { parseTaskMark, taskMarkText } from '../runner/protocol/guest.js';

// The helper's scheduler (`workers N`, `alone`, task marks; PLAN-FORMAT.md "Cases side by side"),
// run on this host with hand-written plans. Durations are never asserted: cases whose sleeps
// differ by hundreds of milliseconds show the order they ran in.
const root = fileURLToPath(new URL('..', import.meta.url));
const sourceDir = join(root, 'suites', 'native');
const dir = t.testdir({});
const built = await buildHelper({ headersDir: null, cacheDir: join(dir, 'cache'), sourceDir });

let plans = 0;
async function planFile(lines: string[]): Promise<string> {
  const file = join(dir, `p${++plans}.plan`);
  await writeFile(file, ['plan 1', ...lines, ''].join('\n'));
  return file;
}
const run = async (lines: string[]) => execa(built.path, ['run', await planFile(lines)], { reject: false });

const sleeper = (name: string, ms: number, extra: string[] = []) => [`case ${name}`, ...extra, `sleep line=1 ms=${ms}`, 'end'];
// The test points of the (only) suite, in the order printed: number and case name.
const points = (stdout: string) => [...stdout.matchAll(/^ {4}(?:not )?ok (\d+) - (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);

t.test('with four workers, cases end (and are numbered) in the order they finish', async (t) => {
  const r = await run(['workers 4', 'suite order', ...sleeper('s900', 900), ...sleeper('s600', 600), ...sleeper('s300', 300), ...sleeper('s0', 0)]);
  t.equal(r.exitCode, 0, r.stdout);
  t.match(r.stdout, /^TAP version 14\n# Subtest: order\n {4}1\.\.4\n/);
  t.same(points(r.stdout), ['1 s0', '2 s300', '3 s600', '4 s900']);
  t.match(r.stdout, /\nok 1 - order\n1\.\.1$/);
});

t.test('an alone case runs beside neither the case before it nor the one after it', async (t) => {
  // Beside A, B (shorter) would end first; beside B, C (no wait) would end first.
  const r = await run(['workers 4', 'suite alone', ...sleeper('a', 600), ...sleeper('b', 300, ['alone']), ...sleeper('c', 0)]);
  t.equal(r.exitCode, 0, r.stdout);
  t.same(points(r.stdout), ['1 a', '2 b', '3 c']);
});

// A timeout, a crash and a main thread killed in the kernel's place (SIGBUS on the monitor)
// among passing cases: the same verdicts and reasons with one worker and with four.
const troubled = [
  'suite troubled',
  ...sleeper('pass-long', 500),
  'case unresolved-fault',
  'timeout_ms 300',
  'open line=7 features=0',
  'map line=8 backend=anon share=private pages=1',
  'register line=9 modes=MISSING',
  'access line=10 thread=t1 op=read page=0',
  'join line=11 thread=t1 expect=done wait_ms=60000',
  'end',
  'case segfault',
  'open line=5 features=0',
  'sleep line=6 ms=100',
  'raise line=7 signal=SEGV',
  'end',
  ...sleeper('pass-short', 50),
  'case program-timeout',
  'timeout_ms 300',
  'exec cwd=/',
  'arg /bin/sh',
  'arg -c',
  'arg echo start; sleep 5',
  'end',
  'case sigbus-on-main-thread',
  'open line=9 features=SIGBUS',
  'map line=10 backend=anon share=private pages=1',
  'register line=11 modes=MISSING',
  'fill line=12 target=reg page=0 byte=0x01',
  'end',
];
// Each case's point without its number and time, by name.
const verdicts = (stdout: string) =>
  Object.fromEntries(
    [...stdout.matchAll(/^ {4}((?:not )?ok) \d+ - (\S+) # time=\d+ms\n((?: {6}.*\n)*)/gm)].map((m) => [m[2]!, `${m[1]}\n${m[3]}`]),
  );

t.test('a timeout and crashes beside other cases get the verdicts and reasons they get serially', async (t) => {
  const serial = await run(troubled);
  const side = await run(['workers 4', ...troubled]);
  t.equal(serial.exitCode, 1);
  t.equal(side.exitCode, 1);
  const expected = verdicts(serial.stdout);
  t.same(Object.keys(expected).sort(), ['pass-long', 'pass-short', 'program-timeout', 'segfault', 'sigbus-on-main-thread', 'unresolved-fault']);
  t.same(verdicts(side.stdout), expected, side.stdout);
  t.match(expected['unresolved-fault'], /status: timeout\n {6}reason: "line 11: join: timed out after 300ms"/);
  t.match(expected['segfault'], /status: crash\n {6}reason: "line 7: raise: case process killed by SIGSEGV/);
  t.match(expected['program-timeout'], /status: timeout\n {6}reason: "\/bin\/sh: timed out after 300ms"\n {6}ended: "timeout"\n/);
  t.equal(expected['pass-long'], 'ok\n');
  t.same(points(serial.stdout).map((p) => p.split(' ')[1]), ['pass-long', 'unresolved-fault', 'segfault', 'pass-short', 'program-timeout', 'sigbus-on-main-thread'], 'one worker keeps plan order');
  t.match(side.stdout, /\nnot ok 1 - troubled\n1\.\.1$/);
});

t.test('a program case beside cases of steps keeps its output and how it ended', async (t) => {
  const r = await run([
    'workers 3',
    'suite mixed',
    ...sleeper('steps-long', 600),
    'case program',
    'exec cwd=/',
    'arg /bin/sh',
    'arg -c',
    'arg sleep 0.3; echo hi',
    'end',
    ...sleeper('steps-short', 0),
  ]);
  t.equal(r.exitCode, 0, r.stdout);
  t.same(points(r.stdout), ['1 steps-short', '2 program', '3 steps-long']);
  t.match(r.stdout, /ok 2 - program # time=\d+ms\n {6}---\n {6}status: \S+\n {6}reason: "\/bin\/sh: exit 0"\n {6}ended: "exit 0"\n {6}dropped: 0\n {6}output: "aGkK"\n/);
});

t.test('workers must be 1..64, given once, before the first suite; alone takes no value', async (t) => {
  const cases: [string[], string][] = [
    [['workers 0', 'suite s'], 'line 2: workers: expected 1..64'],
    [['workers 65', 'suite s'], 'line 2: workers: expected 1..64'],
    [['workers', 'suite s'], 'line 2: workers: expected 1..64'],
    [['workers 2', 'workers 2', 'suite s'], 'line 3: workers: given twice'],
    [['suite s', 'workers 2'], 'line 3: workers: must come before the first suite'],
    [['suite s', 'case c', 'alone 1', 'end'], 'line 4: alone: takes no value and is given once'],
    [['suite s', 'case c', 'alone', 'alone', 'end'], 'line 5: alone: takes no value and is given once'],
    [['suite s', 'alone'], "line 3: 'alone' outside a case"],
  ];
  for (const [lines, message] of cases) {
    const file = await planFile(lines);
    const r = await execa(built.path, ['run', file], { reject: false });
    t.equal(r.exitCode, 2, lines.join(' / '));
    t.equal(r.stdout, '');
    t.equal(r.stderr, `faultline-helper: malformed plan ${file}: ${message}`);
  }
});

// pid -> [ppid, process group] of every process on the host.
function processes(): Map<number, [number, number]> {
  const all = new Map<number, [number, number]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      all.set(Number(name), [Number(ppid), Number(pgrp)]);
    } catch {
      // it ended meanwhile
    }
  }
  return all;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('SIGTERM to the helper takes every running case and program group with it', async (t) => {
  const file = await planFile([
    'workers 3',
    'suite stopped',
    ...sleeper('a', 60000, ['timeout_ms 120000']),
    ...sleeper('b', 60000, ['timeout_ms 120000']),
    'case program',
    'timeout_ms 120000',
    'exec cwd=/',
    'arg /bin/sh',
    'arg -c',
    'arg sleep 60 & sleep 60; wait',
    'end',
  ]);
  const helper = execa(built.path, ['run', file], { reject: false });
  // the two case processes and the program, with the program's shell and its two sleeps
  let mine: number[] = [];
  for (let tries = 0; tries < 200 && mine.length < 5; tries++) {
    await sleep(50);
    const all = processes();
    const children = [...all].filter(([, [ppid]]) => ppid === helper.pid).map(([pid]) => pid);
    mine = [...all].filter(([pid, [ppid, pgrp]]) => children.includes(pid) || children.includes(pgrp) || children.includes(ppid)).map(([pid]) => pid);
  }
  t.equal(mine.length, 5, 'all started');
  helper.kill('SIGTERM');
  const r = await helper;
  t.equal(r.signal, 'SIGTERM');
  let left = mine;
  for (let tries = 0; tries < 100 && left.length; tries++) {
    await sleep(50);
    const all = processes();
    left = mine.filter((pid) => all.has(pid));
  }
  t.same(left, [], 'nothing left behind');
});

// Task marks, read back from the kernel log where this host lets the test write and read it.
const logged = process.getuid?.() === 0 && (await execa('dmesg', [], { reject: false })).exitCode === 0;
t.test('every task of a case names itself, and a program\'s tasks are named by the helper', { skip: logged ? false : 'needs root and a readable kernel log' }, async (t) => {
  const suite = `marks-${process.pid}-${Date.now()}`;
  const r = await run([
    'workers 2',
    `suite ${suite}`,
    'case threads',
    'open line=1 features=0',
    'map line=2 backend=anon pages=2',
    'access line=3 thread=a op=write page=0 byte=1',
    'access line=4 thread=b op=write page=1 byte=2',
    'join line=5 thread=a expect=done',
    'join line=6 thread=b expect=done',
    'end',
    'case forks',
    'exec cwd=/',
    'arg /bin/sh',
    'arg -c',
    'arg sleep 0.3 & echo $!; wait',
    'end',
  ]);
  t.equal(r.exitCode, 0, r.stdout);
  const log = (await execa('dmesg')).stdout.split('\n');
  const marks = log.map((l) => parseTaskMark(l.replace(/^\[[^\]]*\]\s*/, ''))).filter((m) => m?.ref.suite === suite);
  const pids = (name: string) => new Set(marks.filter((m) => m!.ref.case === name).map((m) => m!.pid));
  t.equal(pids('threads').size, 3, 'the case process and its two threads');
  const output = /output: "([^"]*)"/.exec(r.stdout)?.[1] ?? '';
  const child = Number(Buffer.from(output, 'base64').toString().trim());
  t.ok(child > 0, 'the program printed its child');
  t.ok(pids('forks').has(child), 'its child is named');
  t.ok(log.some((l) => l.endsWith(taskMarkText({ suite, case: 'forks' }, child))), 'in the protocol\'s text');
});

t.test('the helper writes task marks in the protocol\'s text', async (t) => {
  const runnerC = readFileSync(join(sourceDir, 'runner.c'), 'utf8');
  t.match(runnerC, 'kmsg_line("faultline: case %s/%s task %ld\\n", c->suite, c->name, pid)');
  t.same(parseTaskMark(taskMarkText({ suite: 's', case: 'c' }, 42)), { ref: { suite: 's', case: 'c' }, pid: 42 });
});
