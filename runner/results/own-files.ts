import { copyFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { makeDirectory } from '../core/files.js';
import { runFileOf } from '../model/document.js';
import { journalFile } from './journal.js';
import { isGuestFileName } from './kernel-files.js';

/** Where a saved run is: the run document, and the results directory around it when it has one. */
export interface SavedRunPlace {
  file: string;
  dir: string | null;
}

// A results directory, or the run.json faultline wrote in one, is that run's directory. A run
// document under another name (a --json copy) stands alone: what lies beside it is not the run's.
export function savedRunPlace(path: string): SavedRunPlace {
  const file = runFileOf(path);
  return { file, dir: basename(file) === 'run.json' ? dirname(file) : null };
}

// The files a run writes at the top of its results directory besides run.json and its kernels'
// (the results directory, the reports, --per-patch's table).
const runFiles = new Set(['results.tap', journalFile, 'report.html', 'compare.json', 'per-patch.txt']);
const isKernelFile = (name: string) => name === 'kselftest.json' || isGuestFileName(name);
const isRunDirectory = (name: string) => name === 'suites' || /^(?:kernel|shard)-\d+$/.test(name);

// What in a results directory is the run's (a path inside it, '/'-separated): the files faultline
// writes there by name, with the .partial they are replaced through, and whatever is under the
// directories it makes (suites/, kernel-N/, shard-N/). Any other name there is free for the user.
export function isOwnPath(path: string): boolean {
  const [top = '', ...below] = path.split('/');
  if (isRunDirectory(top)) return true;
  const name = top.replace(/\.partial$/, '');
  return below.length === 0 && (name === 'run.json' || runFiles.has(name) || isKernelFile(name));
}

// A saved run's own files, copied into `to`: its document as run.json and, from its results
// directory, only what faultline wrote there (regular files, no links), never the folder's other contents.
export function copySavedRun(place: SavedRunPlace, to: string): void {
  makeDirectory(to);
  copyFileSync(place.file, join(to, 'run.json'));
  if (!place.dir) return;
  for (const entry of readdirSync(place.dir, { withFileTypes: true })) {
    const from = join(place.dir, entry.name);
    if (entry.isFile() && (runFiles.has(entry.name) || isKernelFile(entry.name))) copyFileSync(from, join(to, entry.name));
    else if (entry.isDirectory() && entry.name === 'suites') copyFilesWhere(from, join(to, entry.name), (name) => name.endsWith('.yaml'));
    else if (entry.isDirectory() && /^kernel-\d+$/.test(entry.name)) copyFilesWhere(from, join(to, entry.name), isKernelFile);
  }
}

function copyFilesWhere(from: string, to: string, wanted: (name: string) => boolean): void {
  makeDirectory(to);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isFile() && wanted(entry.name)) copyFileSync(join(from, entry.name), join(to, entry.name));
  }
}
