import { readFile } from 'node:fs/promises';
import { FaultlineError } from '../../runner/core/errors.js';
import { firstBuildError } from './progress.js';

/** A failed make step, named by the first compiler error in its log. */
export async function buildFailure(what: string, logPath: string, src?: string): Promise<FaultlineError> {
  const log = await readFile(logPath, 'utf8').catch(() => '');
  const first = firstBuildError(log, src);
  return new FaultlineError('build', first ? `${what}: ${first}` : `${what} (no compiler error found in the log)`, {
    where: logPath,
    hint: `the full build log is ${logPath}`,
  });
}
