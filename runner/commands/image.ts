import { resolve } from 'node:path';
import { buildDockerfile } from '../../images/docker/dockerfile.js';
import { buildRecipeImage, isShippedRecipe, shippedRecipes } from '../../images/recipes/index.js';
import { debootstrapRecipeHash } from '../../images/recipes/debootstrap.js';
import { RECIPE_LABEL, recipeImageName } from '../../images/recipes/labels.js';
import { abortExitCode } from '../core/abort.js';
import { connectEngine, reasonOf } from '../core/engine/engine.js';
import { sweepStale } from '../core/engine/owner.js';
import { FaultlineError } from '../core/errors.js';
import { usableCacheDir } from '../core/paths.js';
import { abortOnSignals } from './interrupt.js';

export interface ImageBuildFlags {
  rebuild?: boolean;
  mirror?: string;
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

// `faultline image build NAME` (a shipped recipe, or docker:DIR for a Dockerfile): progress on
// stderr; on stdout the image's name, id and size, so a script can take the id.
export async function imageBuildCommand(name: string, flags: ImageBuildFlags): Promise<number> {
  const dockerDir = name.startsWith('docker:') ? resolve(name.slice('docker:'.length)) : null;
  if (!dockerDir && !isShippedRecipe(name)) {
    throw new FaultlineError('usage', `there is no shipped image recipe called ${JSON.stringify(name)}`, { hint: `The recipes are ${shippedRecipes.join(', ')}; docker:DIR builds the Dockerfile in DIR.` });
  }
  const cacheDir = usableCacheDir();
  const engine = await connectEngine();
  await sweepStale(engine);
  const abort = abortOnSignals();
  const started = performance.now();
  try {
    const o = {
      cacheDir,
      signal: abort.signal,
      onProgress: (line: string) => process.stderr.write(`image ${name}: ${line}\n`),
      ...(flags.rebuild ? { rebuild: true } : {}),
      ...(flags.mirror ? { mirror: flags.mirror } : {}),
    };
    const image = dockerDir ? await buildDockerfile(engine, dockerDir, o) : await buildRecipeImage(engine, name, o);
    process.stderr.write(`image ${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    process.stdout.write(`${image.name} ${image.id} ${megabytes(image.size)}\n`);
    return 0;
  } catch (error) {
    if (abort.signal.aborted) return abortExitCode(abort.signal);
    throw error;
  }
}

// `faultline image list`: each shipped recipe and what the engine has of it. Without an engine
// the recipes are still listed, with the reason.
export async function imageListCommand(): Promise<number> {
  const engine = await connectEngine().catch((error: unknown) => {
    process.stderr.write(`faultline: ${error instanceof FaultlineError ? error.describe() : String(error)}\n`);
    return null;
  });
  for (const name of shippedRecipes) {
    const tag = recipeImageName(name);
    let state = 'no engine';
    if (engine) {
      try {
        const info = await engine.docker.getImage(tag).inspect();
        const current = name === 'busybox' || info.Config?.Labels?.[RECIPE_LABEL] === debootstrapRecipeHash(name);
        state = `${current ? 'built' : 'outdated (the recipe changed: image build again)'} ${info.Id.slice(7, 19)} ${megabytes(info.Size)}`;
      } catch (cause) {
        state = (cause as { statusCode?: number }).statusCode === 404 ? 'not built' : `unknown: ${reasonOf(cause)}`;
      }
    }
    process.stdout.write(`${name.padEnd(14)}${tag.padEnd(24)}${state}\n`);
  }
  return 0;
}
