import { connectEngine } from '../runner/core/engine/engine.js';
import { sweepStale } from '../runner/core/engine/owner.js';
import type { BuildEnv } from '../runner/core/engine/build-env.js';
import type { RecipeOptions } from './recipes/options.js';
import { engineImageOf, parseImageRef } from './image-ref.js';

// A source kernel's `--build-image` / `build-image` as a build environment: the engine DOCKER_HOST
// names (what dead faultline runs left in it removed first), and the image the name stands for.
// Asked once per name for the life of the process, so a matrix of kernels sharing one build
// image resolves (or builds) it once.
const envs = new Map<string, Promise<BuildEnv>>();

export function buildImageEnv(name: string, o: RecipeOptions): Promise<BuildEnv> {
  let env = envs.get(name);
  if (!env) {
    env = (async (): Promise<BuildEnv> => {
      const ref = parseImageRef(name, '--build-image');
      const engine = await connectEngine();
      await sweepStale(engine);
      return { kind: 'container', engine, image: await engineImageOf(engine, name, ref, o) };
    })();
    envs.set(name, env);
    env.catch(() => envs.delete(name));
  }
  return env;
}
