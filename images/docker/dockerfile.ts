import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Pack } from 'tar-fs';
import { FaultlineError, isFaultlineError } from '../../runner/core/errors.js';
import { reasonOf, type Engine } from '../../runner/core/engine/engine.js';
import { followBuild, inspectImage, type EngineImage } from '../../runner/core/engine/images.js';
import type { RecipeOptions } from '../recipes/options.js';

export interface DockerfileBuild extends RecipeOptions {
  /** `name[:tag]` for the built image; untagged when absent (the caller keeps its id). */
  tag?: string;
  labels?: Record<string, string>;
  /** Files from elsewhere added to the build context under `name` (a static busybox, say). */
  extraFiles?: { name: string; path: string }[];
  /** The Dockerfile's ARG values. */
  buildArgs?: Record<string, string>;
}

// The Dockerfile in DIR built by the engine with DIR as its context: no network (nothing comes
// from a registry or the internet, so the same directory builds the same image), intermediate
// containers removed even when a step fails, each output line to onProgress. A stop closes the
// request; the engine then cancels the build and removes the step's container itself.
export async function buildDockerfile(engine: Engine, dir: string, o: DockerfileBuild): Promise<EngineImage> {
  await requireDockerfile(dir);
  o.signal?.throwIfAborted();
  return buildFromContext(engine, (await buildContext(dir, o.extraFiles ?? [])) as unknown as Readable, dir, o);
}

// A build context made elsewhere (a tar stream holding a Dockerfile), built as buildDockerfile
// builds a directory's; `dir` names it in messages.
export async function buildFromContext(engine: Engine, context: Readable, dir: string, o: DockerfileBuild): Promise<EngineImage> {
  o.signal?.throwIfAborted();
  const what = `building ${join(dir, 'Dockerfile')}`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await engine.docker.buildImage(context as unknown as NodeJS.ReadableStream, {
      ...(o.tag ? { t: o.tag } : {}),
      labels: o.labels ?? {},
      buildargs: o.buildArgs ?? {},
      networkmode: 'none',
      rm: true,
      forcerm: true,
      nocache: o.rebuild ?? false,
      ...(o.signal ? { abortSignal: o.signal } : {}),
    });
  } catch (cause) {
    context.destroy();
    o.signal?.throwIfAborted();
    throw new FaultlineError('engine', `the engine at ${engine.where} refused ${what}: ${reasonOf(cause)}`, { where: dir, hint: `Check the Dockerfile with \`docker build --network none ${dir}\`.`, cause });
  }
  let id: string;
  try {
    id = await followBuild(engine, stream, what, o.onProgress);
  } catch (error) {
    o.signal?.throwIfAborted();
    if (isFaultlineError(error) && error.kind === 'image' && !error.hint) {
      throw new FaultlineError('image', error.message, { where: dir, hint: `Fix that step in ${join(dir, 'Dockerfile')} (builds have no network: everything must come from the directory or the base image), then run again.`, cause: error });
    }
    throw error;
  }
  return inspectImage(engine, o.tag ?? id);
}

/** Fails, saying what to do, unless DIR is a directory holding a Dockerfile. */
export async function requireDockerfile(dir: string): Promise<void> {
  const kind = await stat(dir).then((s) => (s.isDirectory() ? 'dir' : 'other'), () => 'none');
  if (kind !== 'dir') {
    throw new FaultlineError('image', `${dir} is ${kind === 'none' ? 'not there' : 'not a directory'}: docker:DIR names a directory holding a Dockerfile`, {
      where: dir,
      hint: 'Give the directory of a Dockerfile (docker:./images/mine), or an image the engine has (docker:NAME:TAG).',
    });
  }
  if (!(await stat(join(dir, 'Dockerfile')).then((s) => s.isFile(), () => false))) {
    throw new FaultlineError('image', `${dir} has no Dockerfile`, {
      where: dir,
      hint: `Write ${join(dir, 'Dockerfile')} (FROM scratch, or FROM an image the engine has: no registry is asked), or name an image the engine has with docker:NAME:TAG.`,
    });
  }
}

// The directory as a tar stream, with the extra files appended at its end.
async function buildContext(dir: string, extras: readonly { name: string; path: string }[]): Promise<Pack> {
  const files = await Promise.all(
    extras.map(async (f) => {
      try {
        const [data, info] = await Promise.all([readFile(f.path), stat(f.path)]);
        return { name: f.name, data, mode: info.mode & 0o7777 };
      } catch (cause) {
        throw new FaultlineError('image', `cannot read ${f.path} for the build of ${dir}: ${reasonOf(cause)}`, { where: f.path, cause });
      }
    }),
  );
  const { pack } = await import('tar-fs'); // loaded by the runs that build an image, not by every start
  return pack(dir, {
    finalize: false,
    finish: (tar: Pack) => {
      for (const f of files) tar.entry({ name: f.name, mode: f.mode, size: f.data.length }, f.data);
      tar.finalize();
    },
  });
}
