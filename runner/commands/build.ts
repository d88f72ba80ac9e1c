import { resolveKernel } from '../../kernels/resolve.js';
import { RunEvents } from '../events.js';
import { cacheDir } from '../paths.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { kernelSpecFromFlags, requireSource, type KernelFlags } from './kernel-flags.js';

// `faultline build`: just the kernel. Progress goes to stderr; stdout is the bzImage path, so
// `qemu-system-x86_64 -kernel "$(faultline build ...)"` works.
export async function buildCommand(flags: KernelFlags): Promise<number> {
  const spec = requireSource(await kernelSpecFromFlags(flags), 'faultline build');
  const events = new RunEvents();
  const terminal = new TerminalReporter(process.stderr);
  events.on((e) => terminal.handle(e));
  const kernel = await events.stage(
    'kernel',
    undefined,
    () => resolveKernel(spec, { cacheDir: cacheDir(), onProgress: (p) => events.emit({ type: 'progress', stage: 'kernel', step: p.step, detail: p.detail }) }),
    (k) => ({ cached: k.cached, detail: `${k.id}${k.release ? ` (${k.release})` : ''}` }),
  );
  process.stdout.write(`${kernel.image}\n`);
  return 0;
}
