import { createWriteStream, type WriteStream } from 'node:fs';
import { appendFile, copyFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { FaultlineError } from '../core/errors.js';
import type { Accel } from '../model/types.js';
import { makeTempDir } from '../core/temp-dirs.js';
import { requireTool } from '../core/tools.js';
import { qemuArgv } from './argv.js';
import { hostTscKhz } from './host-tsc.js';
import { cacheDir } from '../core/paths.js';
import { defaultGuestConfig, type GuestMachine } from './guest-config.js';
import { LineSplitter, type LineSpan } from './lines.js';
import { diesWithUs } from './pdeathsig.js';
import { consoleText, parseAgentDone } from '../protocol/guest.js';

export interface BootOptions {
  kernel: string;
  /** The QEMU binary; by default qemu-system-x86_64 from PATH. */
  qemu?: string;
  /** The initramfs (base + plan segments); null boots the kernel alone (the accel probe). */
  initrd: string | null;
  /** Segments that go before `initrd` (an engine image's filesystem, from the cache): the two are
   * joined in the guest's temporary directory, removed with it. */
  initrdPrefix?: string;
  accel: Accel;
  /** The run's guest (defaultGuestConfig when not given). */
  guest?: GuestMachine;
  hugepages?: number;
  cpu?: string;
  /** Give the guest this much swap on a scratch disk (for cases that need pages swapped out). */
  swapMiB?: number;
  /** The kernel has ACPI (CONFIG_ACPI=y), so microvm can give it the swap disk (argv.ts). */
  kernelAcpi?: boolean;
  /** The agent sets the hung-task detector's timeout to this. */
  hungTaskSecs?: number;
  /** Raw console bytes are written here as they arrive, so a hang still leaves its log. */
  consoleLog?: string;
  /** Host watchdog: QEMU is killed after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Wire the result serial port (ttyS1); off for the acceleration probe. */
  resultChannel?: boolean;
  onStart?: (argv: string[]) => void;
  /** QEMU has exited; the result channel may still be delivering its last bytes. */
  onExit?: () => void;
  /** Each console line, and where it is in the console (and its log), in bytes. */
  onConsoleLine?: (line: string, span: LineSpan) => void;
  onResult?: (chunk: string) => void;
}

export interface BootResult {
  /** QEMU's exit code; null when it was killed (watchdog or abort). */
  exitCode: number | null;
  /** The signal that ended QEMU when it was not the watchdog or the abort signal. */
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  ms: number;
  /** The full command, binary first. */
  argv: string[];
  /** The agent's "faultline: agent done rc=N", or null when the guest never got there. */
  agentExit: number | null;
  consoleBytes: number;
  stderr: string;
  /** Set by a replay of a saved guest: how the host ended it then, which no timer decides now. */
  recorded?: RecordedEnd;
  /** The agent had said it was done, and QEMU had not exited AGENT_DONE_EXIT_MS later: the host
   * stopped it (all results were in). */
  stoppedAfterDone?: boolean;
}

/** What only the host knew when a guest ended: which of its limits stopped QEMU, and how long
 * the case that was running had run. Saved beside the console (guest-end.json). */
export interface RecordedEnd {
  stoppedBy: { why: 'no-output' | 'not-ready' | 'case'; reason: string } | null;
  unfinishedMs: number | null;
}

// Rarely (about one microvm boot in 150 under TCG on a loaded host, seen after the guest's
// init called reboot) a guest never gets as far as the kernel's "Restarting system": once the
// agent has said it is done, every result is in, so QEMU is stopped rather than waited for
// until the backstop.
export const AGENT_DONE_EXIT_MS = 15_000;

/** Boots a guest: QEMU for real, or a replay of a saved one (runner/guest/replay.ts). */
export type Booter = (opts: BootOptions) => Promise<BootResult>;

// Boots one guest and streams both channels while it runs; QEMU failing to start at all is a
// 'boot' error, while a guest that dies or hangs is reported in the result for the caller to mark.
export async function bootGuest(opts: BootOptions): Promise<BootResult> {
  const qemu = opts.qemu ?? (await requireTool('qemu-system-x86_64', 'qemu-system-x86'));
  const work = await makeTempDir('faultline-qemu');
  const socketPath = join(work, 'result.sock');
  const wantResult = opts.resultChannel ?? true;
  const hugepages = opts.hugepages ?? 0;
  const swapDisk = opts.swapMiB ? join(work, 'swap.img') : undefined;
  // Sparse: the disk costs nothing on the host until the guest swaps to it.
  if (swapDisk) {
    await writeFile(swapDisk, '');
    await truncate(swapDisk, opts.swapMiB! * 1024 * 1024);
  }
  const initrd = opts.initrd !== null && opts.initrdPrefix ? await joinedInitrd(work, opts.initrdPrefix, opts.initrd) : opts.initrd;
  const guest = opts.guest ?? defaultGuestConfig;
  const tscKhz = opts.accel === 'tcg' && guest.machine !== 'pc' ? await hostTscKhz(cacheDir()) : null;
  const args = qemuArgv({
    kernel: opts.kernel,
    initrd,
    accel: opts.accel,
    guest,
    tscKhz,
    ...(opts.kernelAcpi ? { kernelAcpi: true } : {}),
    result: wantResult ? { kind: 'socket', path: socketPath } : null,
    hugepages,
    ...(opts.cpu ? { cpu: opts.cpu } : {}),
    ...(swapDisk ? { swapDisk } : {}),
    ...(opts.hungTaskSecs ? { hungTaskSecs: opts.hungTaskSecs } : {}),
  });
  const argv = [qemu, ...args];
  let log: WriteStream | null = null;
  let result: ResultListener | null = null;
  let agentExit: number | null = null;
  let consoleBytes = 0;
  let afterDone: NodeJS.Timeout | null = null;
  let stopAfterDone = (): void => undefined;
  const lines = new LineSplitter((line, span) => {
    agentExit = parseAgentDone(consoleText(line)) ?? agentExit;
    if (agentExit !== null && !afterDone) afterDone = setTimeout(() => stopAfterDone(), AGENT_DONE_EXIT_MS);
    opts.onConsoleLine?.(line, span);
  });
  const started = performance.now();
  try {
    log = opts.consoleLog ? await openConsoleLog(opts.consoleLog) : null;
    result = wantResult ? await listenForResults(socketPath, opts.onResult) : null;
    const [command, ...commandArgs] = await diesWithUs([qemu, ...args]);
    const child = execa(command!, commandArgs, {
      stdin: 'ignore',
      buffer: { stdout: false, stderr: true },
      reject: false,
      timeout: opts.timeoutMs,
      forceKillAfterDelay: 2000,
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    });
    let stoppedAfterDone = false;
    stopAfterDone = () => {
      stoppedAfterDone = true;
      child.kill('SIGTERM');
    };
    opts.onStart?.(argv);
    child.stdout?.on('data', (chunk: Buffer) => {
      consoleBytes += chunk.length;
      log?.write(chunk);
      lines.write(chunk);
    });
    const done = await child;
    if (afterDone) clearTimeout(afterDone);
    opts.onExit?.();
    lines.end();
    await result?.drained();
    const ms = Math.round(performance.now() - started);
    const stderr = typeof done.stderr === 'string' ? done.stderr : '';
    // QEMU exits 0 on SIGTERM, so a killed guest's code says nothing: report null instead.
    const exitCode = done.timedOut || done.isCanceled ? null : (done.exitCode ?? null);
    const signal = done.timedOut || done.isCanceled ? null : (done.signal ?? null);
    if (done.failed && consoleBytes === 0 && (signal !== null || (exitCode !== null && exitCode !== 0))) {
      const how = signal ? `killed by ${signal}` : `exit ${exitCode}`;
      throw new FaultlineError('boot', `QEMU failed to start the guest (${how}): ${firstLine(stderr) ?? 'no message'}`, {
        where: argv.join(' '),
        cause: stderr,
      });
    }
    return { exitCode, signal, timedOut: done.timedOut, aborted: done.isCanceled, ms, argv, agentExit, consoleBytes, stderr, ...(stoppedAfterDone ? { stoppedAfterDone } : {}) };
  } finally {
    if (afterDone) clearTimeout(afterDone);
    result?.close();
    await closeLog(log);
    await rm(work, { recursive: true, force: true });
  }
}

interface ResultListener {
  /** Resolves once QEMU's connection closed (all bytes delivered), or soon if it never connected. */
  drained(): Promise<void>;
  close(): void;
}

// QEMU connects to this socket as a client when it starts, so the host is listening first and
// no result byte can be lost; bytes are decoded and handed on as they arrive.
async function listenForResults(path: string, onResult: ((chunk: string) => void) | undefined): Promise<ResultListener> {
  const decoder = new StringDecoder('utf8');
  const sockets: Socket[] = [];
  let closedCount = 0;
  let notify: () => void = () => {};
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => {
      const text = decoder.write(chunk);
      if (text !== '') onResult?.(text);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closedCount++;
      notify();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  server.on('error', () => {});
  return {
    drained: () =>
      new Promise<void>((resolve) => {
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          const rest = decoder.end();
          if (rest !== '') onResult?.(rest);
          resolve();
        };
        const timer = setTimeout(finish, sockets.length === 0 ? 0 : 2000);
        notify = () => {
          if (closedCount >= sockets.length) finish();
        };
        notify();
      }),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

// Fails before QEMU starts if the log cannot be written, instead of losing the console silently.
async function openConsoleLog(path: string): Promise<WriteStream> {
  try {
    await writeFile(path, '');
  } catch (cause) {
    throw new FaultlineError('io', `cannot write the console log ${path}`, { cause });
  }
  const log = createWriteStream(path);
  log.on('error', () => {});
  return log;
}

function closeLog(log: WriteStream | null): Promise<void> {
  return new Promise((resolve) => (log ? log.end(() => resolve()) : resolve()));
}

/** QEMU's first stderr line is the cause; an assertion that follows only restates it. */
function firstLine(text: string): string | undefined {
  return text.split('\n').find((l) => l.trim() !== '');
}

// The kernel unpacks concatenated segments in order. copyFile lets the kernel copy the large
// prefix itself (copy_file_range, or a reflink where the filesystem has them).
async function joinedInitrd(work: string, prefix: string, rest: string): Promise<string> {
  const path = join(work, 'initrd.img');
  await copyFile(prefix, path);
  await appendFile(path, await readFile(rest));
  return path;
}
