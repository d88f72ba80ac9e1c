import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Kernels, helpers and images are large and shared across runs and checkouts, so they live in
// the per-user XDG cache rather than in the project.
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAULTLINE_CACHE) return env.FAULTLINE_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'faultline');
}

/** The project's own directory: the nearest faultline package.json above this file, which is
 * one level up from the sources and two from dist/. */
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
