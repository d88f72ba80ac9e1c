import { execa } from 'execa';
import { requireTool } from '../core/tools.js';

// setpriv (util-linux) makes the kernel kill QEMU when faultline dies, even by SIGKILL, which
// no handler of ours can catch; without it QEMU is still stopped on every other way out.
export async function diesWithUs(argv: string[]): Promise<string[]> {
  const setpriv = await pdeathsigWrapper();
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...argv] : argv;
}

let wrapper: Promise<string | null> | undefined;

/** setpriv before util-linux 2.33 has no --pdeathsig, and QEMU would then not start at all. */
export function pdeathsigWrapper(): Promise<string | null> {
  wrapper ??= (async () => {
    const setpriv = await requireTool('setpriv', 'util-linux').catch(() => null);
    if (!setpriv) return null;
    const help = await execa(setpriv, ['--help'], { reject: false, stdin: 'ignore' });
    return help.stdout.includes('--pdeathsig') ? setpriv : null;
  })();
  return wrapper;
}
