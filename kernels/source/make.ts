import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { FaultlineError } from '../../runner/core/errors.js';
import { cLocaleEnv } from '../../runner/core/env.js';
import type { BuildEnv } from '../../runner/core/engine/build-env.js';
import { runInContainer } from '../../runner/core/engine/container.js';

interface MakeResult {
  exitCode: number;
  /** Whether the call was stopped by the AbortSignal. */
  aborted: boolean;
}

// Settings inherited from a calling make or the user's shell would change what kbuild builds or
// where; the build is described only by its arguments.
export function makeEnv(): NodeJS.ProcessEnv {
  const env = cLocaleEnv();
  for (const key of Object.keys(env)) {
    if (/^(MAKEFLAGS|MFLAGS|MAKELEVEL|MAKEFILES|GNUMAKEFLAGS|KBUILD_\w+|KCONFIG_\w+|ARCH|SUBARCH|CROSS_COMPILE|O|CC|LD|HOSTCC|INSTALL_\w+|LLVM)$/.test(key)) {
      delete env[key];
    }
  }
  // The banner ("Linux version ... (user@host)") names faultline, not the machine that built it.
  return { ...env, KBUILD_BUILD_USER: 'faultline', KBUILD_BUILD_HOST: 'faultline' };
}

// Runs make in its own process group, appending everything it prints to the log as it comes and
// handing each line to `onLine`. Aborting kills the whole group (make and every compiler it
// started) and waits until none is left.
export async function runMake(
  args: readonly string[],
  opts: { cwd: string; logPath: string; signal?: AbortSignal; onLine?: (line: string) => void; env?: BuildEnv; mounts?: readonly string[] },
): Promise<MakeResult> {
  opts.signal?.throwIfAborted();
  if (opts.env?.kind === 'container') return makeInContainer(args, { ...opts, env: opts.env });
  const log = createWriteStream(opts.logPath, { flags: 'a' });
  log.write(`$ make ${args.join(' ')}\n`);
  const child = execa('make', args, {
    cwd: opts.cwd,
    env: makeEnv(),
    extendEnv: false,
    detached: true,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
  });
  const pgid = child.pid;
  const killGroupSync = () => {
    if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
  };
  process.once('exit', killGroupSync);
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    if (pgid !== undefined) signalGroup(pgid, 'SIGTERM');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (child.all) {
      const lines = createInterface({ input: child.all, crlfDelay: Infinity });
      for await (const line of lines) {
        log.write(`${line}\n`);
        opts.onLine?.(line);
      }
    }
    const result = await child;
    if (result.failed && result.exitCode === undefined && !aborted && result.signal === undefined) {
      throw new FaultlineError('tool', `cannot run make: ${result.shortMessage}`, { hint: 'apt-get install make', cause: result });
    }
    return { exitCode: result.exitCode ?? 1, aborted };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (pgid !== undefined) await reapGroup(pgid);
    process.removeListener('exit', killGroupSync);
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group
  }
}

// make is gone; compilers it started may not be. TERM what is left, then KILL after a grace period.
async function reapGroup(pgid: number): Promise<void> {
  if (!signalGroup(pgid, 0)) return;
  signalGroup(pgid, 'SIGTERM');
  for (let waited = 0; waited < 5000; waited += 50) {
    await sleep(50);
    if (!signalGroup(pgid, 0)) return;
  }
  signalGroup(pgid, 'SIGKILL');
  while (signalGroup(pgid, 0)) await sleep(50);
}

// The same make inside a container of the build image: the directories it reads and writes are
// mounted at their own paths (so O=, -C and every path in the log mean the same), with the
// network off and the files owned by whoever runs faultline.
async function makeInContainer(
  args: readonly string[],
  opts: { cwd: string; logPath: string; signal?: AbortSignal; onLine?: (line: string) => void; env: Extract<BuildEnv, { kind: 'container' }>; mounts?: readonly string[] },
): Promise<MakeResult> {
  const log = createWriteStream(opts.logPath, { flags: 'a' });
  log.write(`$ make ${args.join(' ')}  # in ${opts.env.image.name}\n`);
  const env = Object.fromEntries(Object.entries(makeEnv()).filter(([k]) => /^(LC_ALL|LANG|KBUILD_BUILD_\w+|HOME|TZ)$/.test(k))) as Record<string, string>;
  try {
    const mounts = [...new Set([opts.cwd, ...(opts.mounts ?? [])])].map((host) => ({ host }));
    const ran = await runInContainer(opts.env.engine, {
      image: opts.env.image.id,
      cmd: ['make', ...args],
      mounts,
      workdir: opts.cwd,
      env: { ...env, HOME: '/tmp' },
      ...(opts.signal ? { signal: opts.signal } : {}),
      onLine: (line) => {
        log.write(`${line}\n`);
        opts.onLine?.(line);
      },
    });
    return { exitCode: ran.exitCode, aborted: ran.aborted };
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
}
