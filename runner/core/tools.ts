import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from './env.js';
import { FaultlineError } from './errors.js';
import { rememberedAnswer } from './tool-identity.js';

// Every stage that shells out checks its program first, so a missing tool is reported with the
// Debian package that provides it instead of a bare ENOENT from deep inside a stage.
export async function requireTool(command: string, debianPackage: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const found = await findTool(command, env);
  if (found === null) throw new FaultlineError('tool', `${command} not found`, { hint: `apt-get install ${debianPackage}` });
  return found;
}

/** The program a bare command name runs, as the shell would find it on PATH, or null. */
export async function findTool(command: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const candidates = isAbsolute(command)
    ? [command]
    : (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; keep looking
    }
  }
  return null;
}

const gccVersions = new Map<string, Promise<string>>();

/** gcc's first `--version` line, part of the helper's and every kernel's cache key: asked once
 * for each PATH (which gcc answers depends on it), and remembered in the cache for the gcc
 * binary PATH names until that binary changes. */
export function compilerVersion(): Promise<string> {
  const path = process.env.PATH ?? '';
  let version = gccVersions.get(path);
  if (!version) {
    const ask = async () => {
      const r = await execa('gcc', ['--version'], { reject: false, stdin: 'ignore', env: cLocaleEnv() });
      if (r.exitCode !== 0) throw new FaultlineError('tool', `cannot run gcc: ${r.code ?? r.shortMessage}`, { hint: 'apt-get install gcc libc6-dev', cause: r });
      return r.stdout.split('\n')[0] ?? r.stdout;
    };
    version = findTool('gcc').then((gcc) => (gcc === null ? ask() : rememberedAnswer(gcc, 'gcc --version', ask)));
    gccVersions.set(path, version);
  }
  return version;
}
