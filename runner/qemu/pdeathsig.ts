import { execa } from 'execa';
import { rememberedAnswer } from '../core/tool-identity.js';
import { requireTool } from '../core/tools.js';

// setpriv (util-linux) makes the kernel kill QEMU when faultline dies, even by SIGKILL, which
// no handler of ours can catch; without it QEMU is still stopped on every other way out.
export async function diesWithUs(argv: string[]): Promise<string[]> {
  const setpriv = await pdeathsigWrapper();
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...argv] : argv;
}

let wrapper: Promise<string | null> | undefined;

/** setpriv before util-linux 2.33 has no --pdeathsig, and QEMU would then not start at all
 * (what a setpriv binary offers is remembered in the cache until the binary changes). */
export function pdeathsigWrapper(): Promise<string | null> {
  wrapper ??= (async () => {
    const setpriv = await requireTool('setpriv', 'util-linux').catch(() => null);
    if (!setpriv) return null;
    const ask = () => execa(setpriv, ['--help'], { reject: false, stdin: 'ignore' }).then((help) => (help.stdout.includes('--pdeathsig') ? 'yes' : 'no'));
    return (await rememberedAnswer(setpriv, 'setpriv --help offers --pdeathsig', ask)) === 'yes' ? setpriv : null;
  })();
  return wrapper;
}
