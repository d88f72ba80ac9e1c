import type { RunEvents } from './events.js';
import type { HostRunner } from './host.js';
import type { ResultStore } from './model/store.js';
import type { Booter } from './qemu/boot.js';
import type { KernelFiles } from './results/kernel-files.js';

// What a run works with, as opposed to what it is asked to do: the store every result goes to,
// the events reporters hear, where files go, the user's stop signal, and the executors, which
// tests and `report --reparse` replace with replays of saved guests and host runs.
export interface RunServices {
  store: ResultStore;
  events: RunEvents;
  cacheDir: string;
  /** A kernel's own directory in the results directory ('' for its top), to write its files through. */
  kernelFiles(dir: string): KernelFiles;
  /** The user's stop (Ctrl-C); the run adds its own --timeout to it. */
  signal?: AbortSignal;
  /** QEMU by default. */
  boot?: Booter;
  /** The helper on this machine by default. */
  host?: HostRunner;
}
