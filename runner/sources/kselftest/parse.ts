import type { CaseStatus, Subtest } from '../../model/types.js';
import { isFailingStatus } from '../../model/status.js';

// The kernel's userfaultfd selftests speak no TAP: these read what they print. They never throw;
// what a test never reached is never a pass.

/** How a test program ended: its exit, a signal, a time limit, the guest dying under it, or the
 * run stopping it (Ctrl-C, --timeout, a program that never started). */
export type Ended =
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; name: string }
  | { kind: 'timeout'; reason: string }
  | { kind: 'lost'; reason: string }
  | { kind: 'stopped'; reason: string };

/** kselftest's exit code for "cannot run here" (KSFT_SKIP). */
const ksftSkip = 4;

/** Backspaces applied (the tests print "1+2+\b)" to erase a trailing "+"), CRs dropped. */
export function cleanOutput(text: string): string {
  let out = '';
  for (const ch of text.replace(/\r/g, '')) out = ch === '\b' ? out.slice(0, -1) : out + ch;
  return out;
}

/** The first "ERROR: ..." a test printed (its err() aborts right after), without errno and line. */
function firstError(text: string): string | null {
  const m = /ERROR: (.*?)(?: \(errno=(-?\d+), (?:line=|@)([^)]+)\))?$/m.exec(text);
  if (!m) return null;
  return `${m[1]!.trim()}${m[2] !== undefined ? ` (errno=${m[2]}, ${/^\d+$/.test(m[3]!) ? `line ${m[3]}` : m[3]})` : ''}`;
}

function endedWords(ended: Ended): string {
  switch (ended.kind) {
    case 'exit':
      return `exit ${ended.code}`;
    case 'signal':
      return `killed by ${ended.name}`;
    default:
      return ended.reason;
  }
}

/** What the test in progress gets when the program stopped in it. */
function stoppedStatus(ended: Ended): CaseStatus {
  if (ended.kind === 'timeout') return 'timeout';
  if (ended.kind === 'exit') return 'fail';
  if (ended.kind === 'stopped') return 'error';
  return 'crash';
}

export interface ModeOutcome {
  status: CaseStatus;
  reason: string | null;
  subtests: Subtest[];
}

/** The subtests a 6.1 `userfaultfd` mode runs, in order, by the line that starts each. */
const userfaultfdSubtests: readonly { name: string; start: RegExp; anonOnly?: true; minorOnly?: true; collapseOnly?: true }[] = [
  { name: 'bounces', start: /^(nr_pages: |bounces: )/ },
  { name: 'uffd-wp pagemap (4 KiB)', start: /^testing uffd-wp with pagemap \(pgsize=4096\): /, anonOnly: true },
  { name: 'uffd-wp pagemap (2 MiB)', start: /^testing uffd-wp with pagemap \(pgsize=2097152\): /, anonOnly: true },
  { name: 'zeropage', start: /^testing UFFDIO_ZEROPAGE: / },
  { name: 'signal delivery', start: /^testing signal delivery: / },
  { name: 'events', start: /^testing events \(fork, remap, remove\): / },
  { name: 'minor faults', start: /^testing minor faults: /, minorOnly: true },
  // The :collapse mod (shmem only): MADV_COLLAPSE of the minor-registered area, after the minor faults.
  { name: 'collapse', start: /^testing collapse of uffd memory into PMD-mapped THPs:/, collapseOnly: true },
];

// 6.1's `tools/testing/selftests/vm/userfaultfd <type>[:dev] <MiB> <bounces>`: a stress phase of
// bounces, then one line per test ("testing X: done." or its fault counts). stdout reaches a pipe
// only when the program exits (it is buffered), so the test in progress is the last one that
// started and did not finish, and the ERROR (on stderr) is its reason.
export function parseUserfaultfd(output: string, ended: Ended, type: string): ModeOutcome {
  const text = cleanOutput(output);
  const lines = text.split('\n');
  const [base, ...mods] = type.split(':');
  const expected = userfaultfdSubtests.filter((s) => (!s.anonOnly || base === 'anon') && (!s.minorOnly || base === 'shmem' || base === 'hugetlb_shared') && (!s.collapseOnly || mods.includes('collapse')));
  const error = firstError(text);
  if (ended.kind === 'exit' && ended.code === ksftSkip) {
    return { status: 'skip', reason: error ?? (lines.find((l) => /skip/i.test(l)) ?? 'the test skipped itself (KSFT_SKIP)'), subtests: [] };
  }
  const started = expected.map((s) => lines.find((l) => s.start.test(l)) ?? null);
  // A bounce ends with its fault counts; a test line with "done" or its counts.
  const finished = (line: string | null, name: string): boolean => {
    if (line === null) return false;
    if (name === 'bounces') return lines.filter((l) => l.startsWith('bounces: ')).every((l) => l.includes('userfaults: ')) && lines.some((l) => l.startsWith('bounces: '));
    return /: (done\.?|userfaults: .*)$/.test(line);
  };
  const ok = ended.kind === 'exit' && ended.code === 0;
  const subtests: Subtest[] = [];
  let stopped: string | null = null;
  expected.forEach((s, i) => {
    if (stopped) {
      subtests.push({ name: s.name, status: 'error', reason: `not reached: the test stopped in "${stopped}"` });
      return;
    }
    if (ok || finished(started[i] ?? null, s.name)) {
      subtests.push({ name: s.name, status: started[i] || ok ? 'pass' : 'skip', reason: started[i] || ok ? null : 'not run by this build' });
      return;
    }
    // The first test that did not finish is the one the program stopped in.
    stopped = s.name;
    const why = error ?? `${endedWords(ended)} without a message`;
    subtests.push({ name: s.name, status: stoppedStatus(ended), reason: ended.kind === 'exit' ? why : `${endedWords(ended)}${error ? `; ${error}` : ''}` });
  });
  if (!ok && !stopped) {
    // Every expected test finished, yet the program failed: say what it said.
    const last = subtests.at(-1)!;
    stopped = last.name;
    last.status = stoppedStatus(ended);
    last.reason = error ?? `${endedWords(ended)} after its last test`;
  }
  const failed = subtests.find((s) => isFailingStatus(s.status));
  return failed ? { status: failed.status, reason: `${failed.name}: ${failed.reason}`, subtests } : { status: 'pass', reason: null, subtests };
}

export interface UnitOutcome {
  status: CaseStatus;
  reason: string | null;
  /** The program said so itself ("done", "skipped", "failed"), rather than it being read from how it ended. */
  stated?: true;
}

// 6.4+'s `uffd-unit-tests`: "Testing <test> on <mem>... done", "... skipped [reason: R]" or
// "... failed [reason: R]" per case (flushed as it goes). A forked child's err() prints its
// "ERROR: ..." in between, and the verdict comes on the next line; an err() in the program itself
// ends it in the middle of a case. Cases it never reached are not passes.
export function parseUnitTests(output: string, ended: Ended, planned: readonly string[]): Map<string, UnitOutcome> {
  const text = cleanOutput(output);
  const results = new Map<string, UnitOutcome>();
  const marks = [...text.matchAll(/^Testing (.+?)\.\.\. ?/gm)];
  let stoppedIn: string | null = null;
  let stoppedError: string | null = null;
  marks.forEach((m, i) => {
    const name = m[1]!;
    const body = text.slice(m.index + m[0].length, marks[i + 1]?.index ?? text.length).split('\n').map((l) => l.trim());
    const said = firstError(body.join('\n'));
    for (const line of body) {
      const skipped = /^skipped \[reason: (.*)\]$/.exec(line);
      const failed = /^failed \[reason: (.*)\]$/.exec(line);
      const outcome: UnitOutcome | null = line === 'done' ? { status: 'pass', reason: null, stated: true } : skipped ? { status: 'skip', reason: skipped[1]!, stated: true } : failed ? { status: 'fail', reason: said ? `${failed[1]!} (${said})` : failed[1]!, stated: true } : null;
      if (outcome) {
        results.set(name, outcome);
        return;
      }
    }
    stoppedIn ??= name;
    stoppedError ??= said;
  });
  if (stoppedIn && !results.has(stoppedIn)) {
    const error = stoppedError ?? firstError(text);
    results.set(stoppedIn, { status: stoppedStatus(ended), reason: ended.kind === 'exit' ? (error ?? `${endedWords(ended)} without a message`) : `${endedWords(ended)}${error ? `; ${error}` : ''}` });
  }
  const whole = ended.kind === 'exit' && (ended.code === 0 || ended.code === 1) && /^Userfaults unit tests: pass=\d+/m.test(text);
  for (const name of planned) {
    if (results.has(name)) continue;
    if (ended.kind === 'exit' && ended.code === ksftSkip) results.set(name, { status: 'skip', reason: firstLine(text) ?? 'userfaultfd is not usable here (KSFT_SKIP)' });
    else if (whole) results.set(name, { status: 'skip', reason: 'not run by this build of uffd-unit-tests' });
    else results.set(name, { status: 'error', reason: `not reached: uffd-unit-tests stopped${stoppedIn ? ` in "${stoppedIn}"` : ''} (${endedWords(ended)}${!stoppedIn && firstError(text) ? `; ${firstError(text)}` : ''})` });
  }
  return results;
}

// 6.4+'s `uffd-stress <type> <MiB> <bounces>`: the bounces of 6.1's stress phase, nothing else.
export function parseStress(output: string, ended: Ended): UnitOutcome {
  const text = cleanOutput(output);
  const error = firstError(text);
  if (ended.kind === 'exit' && ended.code === 0) return { status: 'pass', reason: null };
  if (ended.kind === 'exit' && ended.code === ksftSkip) return { status: 'skip', reason: error ?? firstLine(text) ?? 'the test skipped itself (KSFT_SKIP)' };
  const bounces = [...text.matchAll(/^bounces: (\d+),/gm)].length;
  const where = bounces ? `in bounce ${bounces}` : 'before its first bounce';
  return { status: stoppedStatus(ended), reason: `${where}: ${ended.kind === 'exit' ? (error ?? `${endedWords(ended)} without a message`) : `${endedWords(ended)}${error ? `; ${error}` : ''}`}` };
}

function firstLine(text: string): string | null {
  return text.split('\n').find((l) => l.trim() !== '') ?? null;
}
