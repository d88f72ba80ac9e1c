import type { ReportKind } from '../model/types.js';

// The task a kernel report names, by the kernel's pid, so a report printed while several cases
// ran can be tied to the case whose task it was. The line that names the culprit comes first:
// a hung task or a soft lockup names the stuck task in its first line, and its "CPU: N PID: N"
// line (when there is one) may be the watchdog's; a WARN() names the task in its WARNING line;
// an oops, a BUG and a panic in the dump_stack line "CPU: N PID: N Comm: NAME".
const namers: readonly RegExp[] = [
  /^INFO: task .+:(\d+) blocked for more than \d+ seconds/m,
  /BUG: soft lockup - CPU#\d+ stuck for \d+s! \[.*:(\d+)\]/,
  /^WARNING: CPU: \d+ PID: (\d+) at /m,
  /^CPU: \d+ PID: (\d+) Comm: /m,
];

// An RCU stall's or hard lockup's dump names whatever ran on the CPU that noticed, not a culprit.
const namesNoCulprit: readonly ReportKind[] = ['rcu-stall', 'hard-lockup'];

/** The pid of the task the report names as its own, or null when it names none. */
export function reportTaskPid(kind: ReportKind, text: string): number | null {
  if (namesNoCulprit.includes(kind)) return null;
  for (const namer of namers) {
    const m = namer.exec(text);
    if (m) return Number(m[1]);
  }
  return null;
}
