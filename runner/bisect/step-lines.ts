import type { RunEvent } from '../events.js';
import { caseKey } from '../model/types.js';
import { statusMarks } from '../reporters/summary.js';
import { firstLine, terminalLine } from '../reporters/terminal-text.js';

// What a person watching a bisect sees of each step's run: its stages with their times (a build
// says its steps as they change), notes, and each case's result, indented under the step's line.
// Plain lines, the same on a terminal and in a log: a bisect is a long, mostly unattended job.
export function stepLines(write: (line: string) => void): (event: RunEvent) => void {
  let step = '';
  const line = (text: string) => write(terminalLine(`  ${text}`));
  return (event) => {
    switch (event.type) {
      case 'progress':
        if (event.step !== step) line(`${event.stage} ${event.step}`);
        step = event.step;
        break;
      case 'stage-end':
        step = '';
        // A stage the cache answered at once is said only for the kernel: what each step tests.
        if (event.cached && event.stage !== 'kernel') break;
        line(`${event.stage} ${(event.ms / 1000).toFixed(1)}s${event.cached ? ' (cached)' : ''}${event.detail ? `  ${firstLine(event.detail)}` : ''}`);
        break;
      case 'note':
        line(`note: ${firstLine(event.message)}`);
        break;
      case 'guest-restart':
        line(`guest #${event.guest}: ${firstLine(event.reason)}; a fresh guest runs the ${event.cases} case${event.cases === 1 ? '' : 's'} left`);
        break;
      case 'case-result':
        line(`${statusMarks[event.result.status].padEnd(7)} ${caseKey(event.result)}${event.result.status !== 'pass' && event.result.reason ? `: ${firstLine(event.result.reason)}` : ''}`);
        break;
      default:
        break;
    }
  };
}
