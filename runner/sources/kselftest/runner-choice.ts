import { parseImageName, type ResolvedGuestImage } from '../../../images/guest-image.js';
import type { SelftestLinkage } from '../../../kernels/selftests/programs.js';
import type { BuildEnv } from '../../core/engine/build-env.js';
import { FaultlineError } from '../../core/errors.js';
import { kselftestRunners, type KselftestRunner } from './vmtests.js';

/** `--kselftest-runner NAME`, read before anything runs. */
export function parseKselftestRunner(text: string | undefined): KselftestRunner {
  const name = (text ?? 'programs').trim();
  if ((kselftestRunners as readonly string[]).includes(name)) return name as KselftestRunner;
  throw new FaultlineError('usage', `--kselftest-runner ${JSON.stringify(text)}: it is not a runner faultline knows`, {
    hint: "Give programs (faultline runs each static selftest program itself, the default) or vmtests (the tree's run_vmtests.sh, on an image with bash: --image debian).",
  });
}

// Before anything is built: a kernel whose cases run on this machine, or whose guest is the
// built-in busybox image, cannot run the script. An engine image's bash is known once it is exported.
export function checkKselftestRunner(runner: KselftestRunner, kernels: readonly { kernel: string; host: boolean; image: string }[]): void {
  if (runner !== 'vmtests') return;
  for (const k of kernels) {
    if (k.host) selftestBuildFor(runner, null, k);
    else if (parseImageName(k.image).kind === 'busybox') selftestBuildFor(runner, { kind: 'busybox' }, k);
  }
}

// How a kernel's selftests are built for the runner: static programs on the host for faultline's
// own runs (any guest); for run_vmtests.sh, linked as the tree links them, in a container of the
// guest's own image, so they find its libc. The script needs bash, and a guest to run in.
export function selftestBuildFor(runner: KselftestRunner, guest: ResolvedGuestImage | null, where: { kernel: string; image: string }): { env?: BuildEnv; linkage: SelftestLinkage } {
  if (runner === 'programs') return { linkage: 'static' };
  if (guest === null) {
    throw new FaultlineError('usage', `--kselftest-runner vmtests runs run_vmtests.sh in a guest, and ${where.kernel} runs its cases on this machine (--kernel host)`, {
      hint: 'Give a guest kernel, or --kselftest-runner programs.',
    });
  }
  if (guest.kind !== 'engine' || !guest.bash) {
    throw new FaultlineError('usage', `--kselftest-runner vmtests runs the tree's run_vmtests.sh, a bash script, and the guest image ${where.image} of ${where.kernel} has no bash`, {
      hint: 'Give an image with bash and a libc (--image debian, after `faultline image build debian`), or --kselftest-runner programs.',
    });
  }
  return { env: { kind: 'container', engine: guest.engine, image: guest.image }, linkage: 'dynamic' };
}
