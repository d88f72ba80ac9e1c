import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaultlineError } from './errors.js';
import { errnoText, makeDirectory } from './files.js';

// Kernels, helpers and images are large and shared across runs and checkouts, so they live in
// the per-user XDG cache rather than in the project.
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAULTLINE_CACHE) return env.FAULTLINE_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'faultline');
}

// Checked once, up front, so an unwritable cache is named with its fix instead of failing deep
// inside whichever stage first writes there.
export function usableCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = cacheDir(env);
  try {
    makeDirectory(dir);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    const from = env.FAULTLINE_CACHE ? 'FAULTLINE_CACHE names it' : env.XDG_CACHE_HOME ? 'it is $XDG_CACHE_HOME/faultline' : 'it is ~/.cache/faultline';
    throw new FaultlineError('io', `cannot use the cache directory ${dir}: ${errnoText(cause)}`, {
      hint: `Set FAULTLINE_CACHE to a directory this user can write (${from}).`,
      cause,
    });
  }
  return dir;
}

/** The project's own directory: the nearest faultline package.json above this file, from the
 * sources (tests) and from dist/ alike. */
export const projectRoot: string = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'faultline') return dir;
  }
  throw new Error(`faultline's package.json was not found above ${start}`);
}

export const nativeSourceDir = join(projectRoot, 'suites', 'native');
export const defaultSuitesDir = join(projectRoot, 'suites');
