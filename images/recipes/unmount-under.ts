import { readFile, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { FaultlineError } from '../../runner/core/errors.js';

async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile('/proc/mounts', 'utf8');
  return table
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

// debootstrap mounts proc and sys (and in some containers binds /dev) inside its target; a
// debootstrap that was killed leaves them mounted. Removing the directory through them would
// reach the host's files, so everything under it is detached first, and nothing is removed
// while anything is still mounted there.
export async function removeRootfsDir(dir: string): Promise<void> {
  for (const m of await mountsUnder(dir)) await execa('umount', ['-l', m], { reject: false, stdin: 'ignore' });
  const left = await mountsUnder(dir);
  if (left.length) {
    throw new FaultlineError('image', `cannot remove the unfinished root file system ${dir}: ${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} still mounted there`, {
      hint: `Unmount ${left.length === 1 ? 'it' : 'them'} (\`umount -l PATH\`, as root) and remove ${dir}.`,
    });
  }
  await rm(dir, { recursive: true, force: true });
}
