import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../events.js';
import { journalFile, journalLines, type RecordedLine } from '../model/run-journal.js';
import type { RunModel } from '../model/types.js';

export { journalFile };

/** Compiles only while the lines a reader of a killed run takes from the journal (RecordedLine) are the events as written here. */
type Holds<T extends true> = T;
export type RecordedAsWritten = Holds<Extract<RunEvent, { type: RecordedLine['type'] }> extends RecordedLine ? true : false>;

/** An event as kept: the model it points at is run.json, written beside it. */
type JournaledEvent = Exclude<RunEvent, { type: 'run-start' | 'run-end' }> | (Omit<Extract<RunEvent, { type: 'run-start' }>, 'model'> & { model?: never }) | (Omit<Extract<RunEvent, { type: 'run-end' }>, 'model'> & { model?: never });

// What the run narrated, event by event, so `faultline report` tells a saved run exactly as the
// run told it: the stages and their times, notes, restarts, reruns and kernel reports outside
// cases, not only the results. It is also where a run's results are kept while it goes
// (model/run-journal.ts): a line is appended as each event happens, never rewritten. No fsync:
// a kill (SIGKILL, the OOM killer, a CI time-out) ends the process, not the kernel, and every
// write(2) that returned is in the file; a flush per case would cost a disk round trip each.
// A build's progress is kept only where its step changes (the rule the terminal prints a progress
// line by), not for every file compiled.
export class EventJournal {
  private step: string | null = null;

  constructor(private readonly dir: string) {}

  handle(event: RunEvent): void {
    if (event.type === 'stage-start') this.step = null;
    if (event.type === 'progress') {
      if (event.step === this.step) return;
      this.step = event.step;
    }
    appendFileSync(join(this.dir, journalFile), `${JSON.stringify(journaled(event))}\n`);
  }
}

function journaled(event: RunEvent): JournaledEvent {
  if (event.type === 'run-start' || event.type === 'run-end') {
    const { model: _model, ...rest } = event;
    return rest;
  }
  return event;
}

/** The run's narration from its results directory, with `model` (its run.json) where the events
 * pointed at it; null for a run written before journals, or whose journal is gone. */
export function readJournal(dir: string, model: RunModel): RunEvent[] | null {
  const lines = journalLines(dir) as JournaledEvent[] | null;
  return lines && lines.map((event) => (event.type === 'run-start' || event.type === 'run-end' ? ({ ...event, model } as RunEvent) : event));
}
