import { FaultlineError } from '../core/errors.js';

/** Kernel parameters that name the program the kernel runs as PID 1, instead of faultline's agent. */
const initParameters = /^(rd)?init=/;

// `--append WORDS` (repeatable) as the guest kernel's extra words. A word that replaces the
// guest's init is refused before anything is built: faultline's agent (the initramfs's /init)
// is what mounts the guest and runs the cases, so without it no case could run, and the run
// would only find that out when the agent's ready mark never came.
export function guestAppend(values: readonly string[]): string[] {
  const words = values.flatMap((value) => value.split(/\s+/).filter(Boolean));
  const init = words.find((word) => initParameters.test(word));
  if (init) {
    throw new FaultlineError('usage', `--append ${init} replaces faultline's init: the guest agent that runs the cases would never start`, {
      hint: 'Drop rdinit= and init= from --append; faultline\'s initramfs runs its own agent as init. To look around in a guest, boot it by hand from a results directory (qemu-command.txt).',
    });
  }
  return words;
}
