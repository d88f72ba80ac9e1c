import { resolveKernel } from '../../kernels/resolve.js';
import { RunEvents } from '../events.js';
import { usableCacheDir } from '../core/paths.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { abortExitCode } from '../core/abort.js';
import { abortOnSignals } from './interrupt.js';
import { buildImageEnv } from '../../images/build-image.js';
import { kernelSpecFromFlags, withBuildImage, type KernelFlags } from './kernel-flags.js';

// `faultline build`: just the kernel. Progress goes to stderr; stdout is the bzImage path, so
// `qemu-system-x86_64 -kernel "$(faultline build ...)"` works.
export async function buildCommand(flags: KernelFlags): Promise<number> {
  const cacheDir = usableCacheDir();
  const [spec] = withBuildImage([await kernelSpecFromFlags(flags)], flags.buildImage);
  const abort = abortOnSignals();
  const events = new RunEvents();
  const terminal = new TerminalReporter(process.stderr);
  events.on((e) => terminal.handle(e));
  const build = events.stage(
    'kernel',
    undefined,
    () =>
      resolveKernel(spec!, {
        cacheDir,
        signal: abort.signal,
        onProgress: (p) => events.emit({ type: 'progress', stage: 'kernel', step: p.step, detail: p.detail }),
        buildEnvOf: (name) => buildImageEnv(name, { cacheDir, signal: abort.signal, onProgress: (line) => events.emit({ type: 'progress', stage: 'kernel', step: 'image', detail: line }) }),
      }),
    (k) => ({ cached: k.cached, detail: `${k.id}${k.release ? ` (${k.release})` : ''}` }),
  );
  // make's whole process group is stopped before the abort surfaces here.
  const kernel = await build.catch((error: unknown) => {
    if (abort.signal.aborted) return null;
    throw error;
  });
  if (!kernel) return abortExitCode(abort.signal);
  for (const note of kernel.configNotes ?? []) events.emit({ type: 'note', message: `${kernel.label}: ${note}` });
  process.stdout.write(`${kernel.image}\n`);
  return 0;
}
