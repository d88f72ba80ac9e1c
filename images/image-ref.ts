import { resolve } from 'node:path';
import { FaultlineError } from '../runner/core/errors.js';
import type { Engine } from '../runner/core/engine/engine.js';
import { inspectImage, type EngineImage } from '../runner/core/engine/images.js';
import { buildDockerfile } from './docker/dockerfile.js';
import { buildRecipeImage, isShippedRecipe, shippedRecipes } from './recipes/index.js';
import type { RecipeOptions } from './recipes/options.js';

/** An image as a user names one that the engine runs: a Dockerfile directory, an image it has, a shipped recipe. */
export type ImageRef = { kind: 'dockerfile'; dir: string } | { kind: 'engine-image'; name: string } | { kind: 'recipe'; recipe: string };

// The same reading as the guest's --image (images/guest-image.ts): after docker:, a name that
// starts like a path (./, ../, /, ~) is a directory with a Dockerfile, anything else the engine's
// image; a bare name (or recipe:NAME) is a shipped recipe. Read without the engine, so a bad name
// is a usage error before anything is built.
export function parseImageRef(name: string, flag: string): ImageRef {
  const text = name.trim();
  const bad = (why: string) =>
    new FaultlineError('usage', `${flag} ${JSON.stringify(name)}: ${why}`, {
      hint: `Give docker:DIR (a directory with a Dockerfile), docker:IMAGE (an image the Docker engine has) or a shipped recipe (${shippedRecipes.join(', ')}).`,
    });
  if (text.startsWith('docker:')) {
    const rest = text.slice('docker:'.length);
    if (rest === '') throw bad('docker: names nothing');
    if (/^(\.{0,2}\/|~)/.test(rest) || rest === '.' || rest === '..') return { kind: 'dockerfile', dir: resolve(rest) };
    if (!/^[a-z0-9][a-z0-9._/:@-]*$/i.test(rest)) throw bad(`${JSON.stringify(rest)} is not an image name`);
    return { kind: 'engine-image', name: rest };
  }
  const recipe = text.startsWith('recipe:') ? text.slice('recipe:'.length) : text;
  if (isShippedRecipe(recipe)) return { kind: 'recipe', recipe };
  throw bad('it is not an image faultline knows');
}

// The engine's image for a name: the Dockerfile built (network none), the image inspected, or
// the recipe built or found current. Named as the user named it, for messages and run.json.
export async function engineImageOf(engine: Engine, name: string, ref: ImageRef, o: RecipeOptions): Promise<EngineImage> {
  if (ref.kind === 'dockerfile') return { ...(await buildDockerfile(engine, ref.dir, o)), name };
  if (ref.kind === 'engine-image') return { ...(await inspectImage(engine, ref.name)), name };
  return { ...(await buildRecipeImage(engine, ref.recipe, o)), name };
}
