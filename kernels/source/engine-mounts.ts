import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultlineError } from '../../runner/core/errors.js';
import type { BuildEnv } from '../../runner/core/engine/build-env.js';
import { runInContainer } from '../../runner/core/engine/container.js';

// A container build mounts the scratch directory by its path on the engine's machine. An engine
// on another machine (DOCKER_HOST=ssh://, tcp://) would mount an empty directory there of the same
// name and kbuild would fail in a puzzling way; a token written here and read back there tells
// the two apart in one short container before anything is built.
export async function requireEngineSeesDirectory(env: Extract<BuildEnv, { kind: 'container' }>, dir: string, signal?: AbortSignal): Promise<void> {
  const token = randomUUID();
  const marker = join(dir, '.faultline-engine-check');
  await writeFile(marker, token);
  try {
    const lines: string[] = [];
    const ran = await runInContainer(env.engine, {
      image: env.image.id,
      cmd: ['cat', marker],
      mounts: [{ host: dir, readOnly: true }],
      workdir: '/',
      ...(signal ? { signal } : {}),
      onLine: (line) => lines.push(line),
    });
    if (ran.aborted) signal?.throwIfAborted();
    if (ran.exitCode === 0 && lines.join('\n').trim() === token) return;
    throw new FaultlineError('engine', `the engine at ${env.engine.where} does not see this machine's ${dir}: a container of ${env.image.name} read ${ran.exitCode === 0 ? 'another file' : `nothing (exit ${ran.exitCode}: ${lines.at(-1) ?? 'no output'})`} there`, {
      where: env.engine.where,
      hint: 'A build in an image mounts the cache directory at its own path, so it needs an engine on this machine: point DOCKER_HOST at a local socket, or build without --build-image.',
    });
  } finally {
    await rm(marker, { force: true });
  }
}
