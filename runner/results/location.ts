import { lstatSync, mkdirSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { errnoText, makeDirectory } from '../core/files.js';

// Each run gets a directory of its own: a new results/<stamp> (with -2, -3... when a run in the
// same second took it), or the one named by --results, which must be new or empty so two runs'
// consoles never end up side by side. Nothing is created before the run can start.
export function claimResultsDirectory(named: string | undefined, now: Date): string {
  if (named !== undefined) return claimNamed(named);
  const base = join('results', stamp(now));
  makeResultsParent(base);
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      mkdirSync(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotWrite(dir, error);
    }
  }
}

/** What a `--results DIR` holds: its entries, or null when it does not exist yet; a file there is
 * a usage error, an unreadable directory an I/O one. */
export function resultsDirEntries(dir: string, hint: string, cannot: (dir: string, cause: unknown) => FaultlineError = cannotWrite): string[] | null {
  try {
    if (!statSync(dir).isDirectory()) throw new FaultlineError('usage', `--results ${dir} is a file, not a directory`, { hint });
    return readdirSync(dir);
  } catch (error) {
    if (error instanceof FaultlineError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw cannot(dir, error);
    return null;
  }
}

function claimNamed(dir: string): string {
  const entries = resultsDirEntries(dir, 'Give a new or empty directory with --results DIR.');
  if (entries === null) {
    makeResultsParent(dir);
    try {
      makeDirectory(dir);
    } catch (error) {
      throw cannotWrite(dir, error);
    }
  } else if (entries.length > 0) {
    const shown = entries.sort().slice(0, 3).join(', ');
    throw new FaultlineError('usage', `--results ${dir} already holds files (${shown}${entries.length > 3 ? ', ...' : ''}): faultline keeps one run per directory`, {
      hint: 'Give a new or empty directory, or leave out --results for a fresh results/<stamp>.',
    });
  }
  return dir;
}

function makeResultsParent(dir: string): void {
  try {
    makeDirectory(dirname(dir));
  } catch (error) {
    throw cannotWrite(dir, error);
  }
}

function cannotWrite(dir: string, cause: unknown): FaultlineError {
  return new FaultlineError('io', `cannot write results to ${dir}: ${errnoText(cause)}`, { hint: 'Choose a writable directory with --results DIR.', cause });
}

/** Where `--json` goes: a regular file (or a new one) is replaced atomically as results arrive;
 * anything else (a symlink, a FIFO, /dev/stdout) is written through once, when the run ends,
 * so it is never replaced by a file of ours. */
export interface JsonTarget {
  path: string;
  replace: boolean;
  /** /dev/stdout and the like: written to this descriptor of ours, which the path only names
   * (opening it again fails when the descriptor is a socket, as a pipe from Node is). */
  fd?: number;
}

const descriptorPath = /^\/(?:dev\/(stdout|stderr)|dev\/fd\/(\d+)|proc\/self\/fd\/(\d+))$/;

export function jsonTarget(path: string): JsonTarget {
  const fd = descriptorOf(path);
  if (fd !== undefined) return { path, replace: false, fd };
  return { path, replace: outputFileKind('--json', path, 'run.json') !== 'other' };
}

// A file flag's path, checked before the run starts rather than after it ends: a directory or a
// path that cannot be looked at is refused. What is there: nothing yet, a file, or something
// else (a FIFO, a device) that is written through.
export function outputFileKind(flag: string, path: string, name: string): 'none' | 'file' | 'other' {
  let kind: 'none' | 'file' | 'dir' | 'other' = 'none';
  try {
    const link = lstatSync(path);
    const target = link.isSymbolicLink() ? statSync(path) : link;
    kind = target.isDirectory() ? 'dir' : link.isFile() ? 'file' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new FaultlineError('usage', `${flag} ${path} cannot be used: ${errnoText(error)}`, { hint: `Give a file path, e.g. ${flag} out/${name}.` });
    }
  }
  if (kind === 'dir') throw new FaultlineError('usage', `${flag} ${path} is a directory`, { hint: `Give a file path, e.g. ${flag} ${join(path, name)}.` });
  return kind;
}

/** The descriptor a path (or the symlinks it leads through) names, if it is one of ours. */
function descriptorOf(path: string): number | undefined {
  let current = path;
  for (let hops = 0; hops < 8; hops++) {
    const match = descriptorPath.exec(current);
    if (match) return match[1] === 'stdout' ? 1 : match[1] === 'stderr' ? 2 : Number(match[2] ?? match[3]);
    try {
      if (!lstatSync(current).isSymbolicLink()) return undefined;
      current = resolve(dirname(current), readlinkSync(current));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** 2026-11-24T22-51-07: sortable, and safe in a file name. */
export function stamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}-${pad(date.getMinutes())}-${pad(date.getSeconds())}`;
}
