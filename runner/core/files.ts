import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FaultlineError } from './errors.js';

// Cache hits are decided by whether a file is there; one place says how to ask.
export const pathExists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

export const isDirectory = (path: string): Promise<boolean> => stat(path).then((s) => s.isDirectory(), () => false);
export const isFile = (path: string): Promise<boolean> => stat(path).then((s) => s.isFile(), () => false);

const isDirectorySync = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

// `mkdir -p` that stops: Node's recursive mkdir retries forever where a filesystem answers
// ENOENT under a parent that exists (/proc/sys/x), and reports ENOENT for a read-only one.
// Here each missing level is made in turn, and the first refusal is thrown with its own code.
export function makeDirectory(path: string): void {
  try {
    mkdirSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (isDirectorySync(path)) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: 'ENOTDIR', path });
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path || isDirectorySync(parent)) throw error;
    makeDirectory(parent);
    makeDirectory(path);
  }
}

/** "EACCES (permission denied)" from a Node file system error, for one-line messages. */
export function errnoText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const what = /^[A-Z]+: ([^,]+)/.exec(e?.message ?? '')?.[1];
  return e?.code ? `${e.code}${what ? ` (${what})` : ''}` : String(error);
}

/** Readers never see half a file: written beside it, then renamed over it. */
export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.partial`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** A file the user named (`--junit`, `--html`, `--json` of a saved run): its directory made, any failure one error. */
export function writeUserFile(file: string, text: string): void {
  try {
    makeDirectory(dirname(file));
    writeFileSync(file, text);
  } catch (cause) {
    throw new FaultlineError('io', `cannot write ${file}: ${errnoText(cause)}`, { hint: 'Give a file in a writable directory.', cause });
  }
}
