import { cleanOutput, type Ended } from './parse.js';

// run_vmtests.sh prints each program it runs between two rules of dashes ("running ./userfaultfd
// anon 20 16"), then what the program printed, then [PASS], [SKIP] or [FAIL]. From 6.2 on every
// line of that is prefixed "# " (its TAP mode) and a TAP point follows, whose "# exit=N" says the
// exit; 6.1 says only [FAIL], and bash itself names a signal that killed the program. These read
// the script's output into one block per program run. They never throw.

/** One program the script ran: its command line, what it printed, and how it ended (null: the script
 * stopped while it ran). */
export interface ScriptRun {
  argv: string[];
  output: string;
  ended: Ended | null;
}

export interface ScriptOutput {
  runs: ScriptRun[];
  /** What the script printed outside its runs (its own messages: "Not enough huge pages available"). */
  own: string[];
}

const title = /^(?:# )?running (.*)$/;
const rule = /^(?:# )?-+$/;
// A program whose output does not end in a newline leaves the verdict at the end of its last line.
const verdict = /^(.*?)(?:# )?\[(PASS|SKIP|FAIL)\]$/;
const tapPoint = /^(not )?ok \d+ .*?(?: # exit=(\d+))?$/;

/** bash's words for a signal that killed a foreground program ("line 75: 123 Segmentation fault"). */
const bashSignals: Record<string, string> = {
  'Segmentation fault': 'SIGSEGV',
  Killed: 'SIGKILL',
  Aborted: 'SIGABRT',
  'Bus error': 'SIGBUS',
  'Illegal instruction': 'SIGILL',
  'Floating point exception': 'SIGFPE',
  Terminated: 'SIGTERM',
  'Trace/breakpoint trap': 'SIGTRAP',
};

export function parseVmtestsOutput(text: string): ScriptOutput {
  const lines = cleanOutput(text).split('\n');
  const runs: ScriptRun[] = [];
  const own: string[] = [];
  let current: { argv: string[]; body: string[] } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const started = rule.test(line) ? title.exec(lines[i + 1] ?? '') : null;
    if (started && rule.test(lines[i + 2] ?? '')) {
      // A run that never said how it ended, followed by another: the script went on without it.
      if (current) runs.push({ argv: current.argv, output: current.body.join('\n'), ended: null });
      current = { argv: started[1]!.split(/\s+/).filter(Boolean), body: [] };
      i += 2;
      continue;
    }
    if (!current) {
      if (line.trim() !== '') own.push(line.replace(/^# /, ''));
      continue;
    }
    const v = verdict.exec(line);
    if (!v) {
      current.body.push(line.replace(/^# /, ''));
      continue;
    }
    if (v[1]) current.body.push(v[1].replace(/^# /, ''));
    // From 6.2 a TAP point follows the verdict, with the exit code of a failure.
    const point = tapPoint.exec(lines[i + 1] ?? '');
    if (point) i++;
    runs.push({ argv: current.argv, output: current.body.join('\n'), ended: endedOf(v[2]!, point?.[2] ?? null, current.body) });
    current = null;
  }
  // The script stopped while a program ran: its block has no verdict.
  if (current) runs.push({ argv: current.argv, output: current.body.join('\n'), ended: null });
  return { runs, own };
}

function endedOf(v: string, exit: string | null, body: readonly string[]): Ended {
  if (v === 'PASS') return { kind: 'exit', code: 0 };
  if (v === 'SKIP') return { kind: 'exit', code: 4 };
  if (exit !== null) {
    const code = Number(exit);
    // The script's subshell exits 128+N when signal N killed the program.
    if (code > 128 && code < 160) return { kind: 'signal', name: signalName(code - 128) };
    return { kind: 'exit', code };
  }
  for (const line of body) {
    const m = /line \d+: +\d+ ([A-Z][A-Za-z/ ]+?)(?: +\(core dumped\))? +"\$@"/.exec(line);
    if (m && bashSignals[m[1]!]) return { kind: 'signal', name: bashSignals[m[1]!]! };
  }
  // 6.1's [FAIL] keeps no exit code: any other exit reads as 1.
  return { kind: 'exit', code: 1 };
}

const signalNames: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM' };

function signalName(n: number): string {
  return signalNames[n] ?? `signal ${n}`;
}
