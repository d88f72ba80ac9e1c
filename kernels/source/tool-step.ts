import { FaultlineError } from '../../runner/core/errors.js';

// A helper program (cp, tar, find, make mrproper) failing in the middle of the source pipeline:
// one paragraph naming the step and the program's own first complaint, not an execa stack.
// An abort (Ctrl-C) passes through unchanged.
export async function toolStep<T>(what: string, where: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (signal?.aborted || error instanceof FaultlineError) throw error;
    const failed = error as { stderr?: unknown; all?: unknown; shortMessage?: unknown; message?: unknown };
    const output = [failed.stderr, failed.all].find((o): o is string => typeof o === 'string' && o.trim() !== '');
    const detail = output?.split('\n').find((l) => l.trim() !== '')?.trim() ?? String(failed.shortMessage ?? failed.message ?? error);
    throw new FaultlineError('io', `${what} failed: ${detail}`, {
      where,
      hint: 'check the free space of the cache directory (FAULTLINE_CACHE) and that the tree is readable',
      cause: error,
    });
  }
}
