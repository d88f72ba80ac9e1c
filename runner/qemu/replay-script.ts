import { basename, dirname } from 'node:path';
import { shellQuote } from '../core/shell.js';

// qemu-command.txt is the guest's QEMU command as a script that runs it again from the results
// directory: the same kernel, initramfs and options, except what lived only while faultline ran:
// the result channel (a socket faultline listened on) goes to a file, and the swap disk (a
// scratch file) is made anew.
// An engine image's filesystem stays in faultline's cache: the script joins it with the saved
// segments in a temporary file, as faultline did.
export function replayScript(argv: readonly string[], opts: { dir: string; resultsFile: string; swapFile: string; swapMiB: number; initrd?: { saved: string; prefix?: string } }): string {
  const joined = opts.initrd?.prefix;
  const args = argv.map((arg, i) => {
    const option = argv[i - 1];
    if (option === '-initrd' && joined) return joinedInitrd;
    if (option === '-chardev' && arg.startsWith('socket,id=result,')) return `file,id=result,path=${opts.resultsFile}`;
    if (option === '-drive' && arg.includes(',id=swap,')) return arg.replace(/^file=(?:[^,]|,,)*,/, `file=${opts.swapFile},`);
    if (option === '-initrd' && dirname(arg) === opts.dir) return basename(arg);
    return arg;
  });
  const swap = argv.some((a) => a.includes(',id=swap,'));
  return [
    '#!/bin/sh',
    '# The QEMU command faultline ran for this guest. Run it again from here with: sh THIS-FILE',
    `# The result channel (TAP) goes to ${opts.resultsFile}; faultline read it from a socket.`,
    'cd "$(dirname "$0")" || exit',
    ...(swap ? [`truncate -s ${opts.swapMiB}M ${opts.swapFile}`] : []),
    ...(joined
      ? [
          `# The guest's userland (an image's filesystem) comes first, from faultline's cache.`,
          `initrd=$(mktemp) || exit`,
          `trap 'rm -f "$initrd"' EXIT`,
          `cat ${shellQuote(joined)} ${shellQuote(basename(opts.initrd!.saved))} > "$initrd" || exit`,
        ]
      : []),
    args.map((arg) => (arg === joinedInitrd ? '"$initrd"' : shellQuote(arg))).join(' '),
    '',
  ].join('\n');
}

const joinedInitrd = '\0joined-initrd';
