import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../events.js';
import type { RunModel } from '../model/types.js';

/** The journal's name in a results directory. */
export const journalFile = 'events.jsonl';

/** An event as kept: the model it points at is run.json, written beside it. */
type JournaledEvent = Exclude<RunEvent, { type: 'run-start' | 'run-end' }> | (Omit<Extract<RunEvent, { type: 'run-start' }>, 'model'> & { model?: never }) | (Omit<Extract<RunEvent, { type: 'run-end' }>, 'model'> & { model?: never });

// What the run narrated, event by event, so `faultline report` tells a saved run exactly as the
// run told it: the stages and their times, notes, restarts, reruns and kernel reports outside
// cases, not only the results. A build's progress is kept only where its step changes (the rule
// the terminal prints a progress line by), not for every file compiled.
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
  const file = join(dir, journalFile);
  if (!existsSync(file)) return null;
  const events: RunEvent[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let event: JournaledEvent;
    try {
      event = JSON.parse(line) as JournaledEvent;
    } catch {
      break; // a run killed while writing its last line: what came before stands
    }
    events.push(event.type === 'run-start' || event.type === 'run-end' ? ({ ...event, model } as RunEvent) : event);
  }
  return events;
}
