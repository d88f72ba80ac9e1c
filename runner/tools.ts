import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { FaultlineError } from './errors.js';

// Every stage that shells out checks its program first, so a missing tool is reported with the
// Debian package that provides it instead of a bare ENOENT from deep inside a stage.
export async function requireTool(command: string, debianPackage: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
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
  throw new FaultlineError('tool', `${command} not found`, { hint: `apt-get install ${debianPackage}` });
}
