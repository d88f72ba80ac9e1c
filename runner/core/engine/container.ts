import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { FaultlineError } from '../errors.js';
import { reasonOf, type Engine } from './engine.js';
import { ownerLabels } from './owner.js';

export interface ContainerRequest {
  /** An image id or name the engine has. */
  image: string;
  cmd: readonly string[];
  /** host path -> same path inside, read-write unless listed in `readOnly`. */
  mounts: readonly { host: string; guest?: string; readOnly?: boolean }[];
  workdir: string;
  env?: Record<string, string>;
  /** `uid:gid`; the user who runs faultline by default, so what it writes is theirs. */
  user?: string;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

export interface ContainerExit {
  exitCode: number;
  aborted: boolean;
}

// One command in a fresh container: no network, labelled as this run's, its output line by line,
// removed when it ends, when it fails to start and when the run is stopped.
export async function runInContainer(engine: Engine, req: ContainerRequest): Promise<ContainerExit> {
  req.signal?.throwIfAborted();
  const user = req.user ?? `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  let container: Docker.Container;
  try {
    container = await engine.docker.createContainer({
      Image: req.image,
      Cmd: [...req.cmd],
      WorkingDir: req.workdir,
      User: user,
      Env: Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: ownerLabels(),
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: {
        NetworkMode: 'none',
        Binds: req.mounts.map((m) => `${m.host}:${m.guest ?? m.host}:${m.readOnly ? 'ro' : 'rw'}`),
        AutoRemove: false,
      },
    });
  } catch (cause) {
    if ((cause as { statusCode?: number }).statusCode === 404) {
      throw new FaultlineError('image', `the engine at ${engine.where} has no image ${req.image}`, {
        where: req.image,
        hint: 'List its images with `docker images`; build a shipped recipe with `faultline image build NAME`, or give docker:DIR for a Dockerfile.',
        cause,
      });
    }
    throw new FaultlineError('engine', `the engine at ${engine.where} cannot create a container of ${req.image}: ${reasonOf(cause)}`, {
      hint: `Check the image with \`docker image inspect ${req.image}\`.`,
      cause,
    });
  }
  const remove = () => container.remove({ force: true, v: true }).catch(() => undefined);
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    void container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  };
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough();
    container.modem.demuxStream(stream, out, out);
    stream.on('end', () => out.end());
    const lines = createInterface({ input: out, crlfDelay: Infinity });
    const read = (async () => {
      for await (const line of lines) req.onLine?.(line);
    })();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // A stop heard before the container runs must keep it from starting: a kill then finds nothing to kill.
    if (req.signal?.aborted) return { exitCode: 137, aborted: true };
    await container.start();
    if (req.signal?.aborted) onAbort();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    out.end();
    await read;
    return { exitCode: StatusCode, aborted };
  } catch (cause) {
    if (aborted) return { exitCode: 137, aborted };
    throw new FaultlineError('engine', `a container of ${req.image} failed to run \`${req.cmd.join(' ')}\`: ${reasonOf(cause)}`, { cause });
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    await remove();
  }
}
