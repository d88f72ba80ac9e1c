import { checks, engineChecks, treeChecks, type AskedImage, type Check } from '../doctor.js';
import { shippedFragment } from '../../kernels/resolve.js';
import { sourceSpecFromFlags } from './kernel-flags.js';
import { FaultlineError, isFaultlineError } from '../core/errors.js';
import { cacheDir } from '../core/paths.js';

export interface DoctorFlags {
  tree?: string;
  config: string[];
  base?: string;
  image?: string;
  buildImage?: string;
}

// `faultline doctor`: every prerequisite, what was found, and for what is missing the command
// that installs it. Exit 0 when all is there, 3 (infrastructure) when anything is not. With
// --tree, only what building that tree needs, and whether its config resolves. The Docker engine
// is required only when --image or --build-image names an image that needs one.
export async function doctorCommand(flags: DoctorFlags = { config: [] }): Promise<number> {
  const cache = cacheDir();
  let list: readonly Check[] = checks;
  if (flags.tree) {
    const spec = await sourceSpecFromFlags({ tree: flags.tree, patches: [], config: flags.config, ...(flags.base ? { base: flags.base } : {}) });
    list = treeChecks({ tree: spec.tree, base: spec.base, fragments: [shippedFragment, ...spec.fragments] });
  } else if (flags.config.length > 0 || flags.base) {
    throw new FaultlineError('usage', '--config and --base apply to a source tree', { hint: 'Add --tree DIR (the kernel source whose config to check).' });
  }
  const asked: AskedImage[] = [
    ...(flags.image ? [{ flag: '--image' as const, name: flags.image }] : []),
    ...(flags.buildImage ? [{ flag: '--build-image' as const, name: flags.buildImage }] : []),
  ];
  if (!flags.tree || asked.length > 0) list = [...list, ...engineChecks(asked)];
  let missing = 0;
  const fail = (name: string, error: unknown) => {
    missing++;
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    process.stdout.write(`MISSING  ${name.padEnd(8)} ${message}\n`);
    if (isFaultlineError(error) && error.hint) process.stdout.write(`${' '.repeat(18)}fix: ${error.hint}\n`);
  };
  for (const check of list) {
    try {
      const result = await check.run(cache);
      const { found, notes = [], failure } = typeof result === 'string' ? { found: result } : result;
      if (!failure) process.stdout.write(`ok       ${check.name.padEnd(8)} ${found}\n`);
      for (const note of notes) process.stdout.write(`note     ${check.name.padEnd(8)} ${note}\n`);
      if (failure) fail(check.name, failure);
    } catch (error) {
      // A doctor reports every failure, even one no stage anticipated, instead of stopping.
      fail(check.name, error);
    }
  }
  process.stdout.write(missing ? `${missing} missing\n` : 'everything faultline needs is here\n');
  return missing ? 3 : 0;
}
