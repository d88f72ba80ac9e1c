import { checks } from '../doctor.js';
import { isFaultlineError } from '../core/errors.js';
import { cacheDir } from '../core/paths.js';

// `faultline doctor`: every prerequisite, what was found, and for what is missing the command
// that installs it. Exit 0 when all is there, 3 (infrastructure) when anything is not.
export async function doctorCommand(): Promise<number> {
  const cache = cacheDir();
  let missing = 0;
  for (const check of checks) {
    try {
      const found = await check.run(cache);
      process.stdout.write(`ok       ${check.name.padEnd(8)} ${found}\n`);
    } catch (error) {
      // A doctor reports every failure, even one no stage anticipated, instead of stopping.
      missing++;
      const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
      process.stdout.write(`MISSING  ${check.name.padEnd(8)} ${message}\n`);
      if (isFaultlineError(error) && error.hint) process.stdout.write(`${' '.repeat(18)}fix: ${error.hint}\n`);
    }
  }
  process.stdout.write(missing ? `${missing} missing\n` : 'everything faultline needs is here\n');
  return missing ? 3 : 0;
}
