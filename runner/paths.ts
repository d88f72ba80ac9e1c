import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Kernels, helpers and images are large and shared across runs and checkouts, so they live in
// the per-user XDG cache rather than in the project.
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAULTLINE_CACHE) return env.FAULTLINE_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'faultline');
}

/** The project's own directory, found from this compiled file (dist/runner/paths.js). */
export const projectRoot: string = fileURLToPath(new URL('../../', import.meta.url));

export const nativeSourceDir = join(projectRoot, 'suites', 'native');
export const defaultSuitesDir = join(projectRoot, 'suites');
