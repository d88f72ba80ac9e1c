import { FaultlineError } from '../../runner/core/errors.js';
import { hashParts } from '../../runner/core/hash.js';
import { reasonOf, type Engine } from '../../runner/core/engine/engine.js';
import { inspectImage, type EngineImage } from '../../runner/core/engine/images.js';
import { chooseDebianMirror } from './apt-mirror.js';
import { importRootfsTarball } from './engine-import.js';
import { imageLabels, recipeImageName, RECIPE_LABEL } from './labels.js';
import type { RecipeOptions } from './options.js';
import { readDebootstrapRecipe } from './recipe-file.js';
import { recipeRootfs, rootfsKey } from './rootfs.js';

// What `docker import` sets besides the files; part of the recipe's hash, as it is of the image.
const importConfig = ['CMD ["/bin/bash"]'];

/** The hash an image of this recipe carries in its org.faultline.recipe label. */
export function debootstrapRecipeHash(name: string, o: Pick<RecipeOptions, 'mirror'> = {}): string {
  const recipe = readDebootstrapRecipe(name);
  return hashParts(['debootstrap-image-1', rootfsKey(recipe, chooseDebianMirror(recipe.suite, o.mirror)), ...importConfig]);
}

// A recipe of images/recipes/NAME/recipe.yaml as the engine's image faultline/NAME: kept when the
// engine has it from the same recipe already, else imported from the cached root file system
// tarball, which is made by debootstrap only when the cache has none.
export async function buildDebootstrapRecipe(engine: Engine, name: string, o: RecipeOptions): Promise<EngineImage> {
  const recipe = readDebootstrapRecipe(name);
  const mirror = chooseDebianMirror(recipe.suite, o.mirror);
  const hash = hashParts(['debootstrap-image-1', rootfsKey(recipe, mirror), ...importConfig]);
  const tag = recipeImageName(name);
  if (!o.rebuild) {
    const existing = await labelsOf(engine, tag);
    if (existing?.[RECIPE_LABEL] === hash) {
      o.onProgress?.(`${tag} is up to date (recipe ${hash})`);
      return inspectImage(engine, tag);
    }
  }
  const rootfs = await recipeRootfs(recipe, mirror, o);
  if (rootfs.cached) o.onProgress?.(`root file system from the cache: ${rootfs.tarPath}`);
  const before = await engine.docker.getImage(tag).inspect().then((i) => i.Id, () => null);
  o.onProgress?.(`importing into the engine at ${engine.where} as ${tag}`);
  const id = await importRootfsTarball(engine, rootfs.tarPath, {
    repository: tag,
    labels: imageLabels(name, hash),
    config: importConfig,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  // The image this one replaced under the tag is left without a name: remove it unless in use.
  if (before && before !== id) await engine.docker.getImage(before).remove({ noprune: false }).catch(() => undefined);
  return inspectImage(engine, tag);
}

async function labelsOf(engine: Engine, tag: string): Promise<Record<string, string> | null> {
  try {
    const info = await engine.docker.getImage(tag).inspect();
    return (info.Config?.Labels as Record<string, string> | null) ?? {};
  } catch (cause) {
    if ((cause as { statusCode?: number }).statusCode === 404) return null;
    throw new FaultlineError('engine', `cannot inspect the image ${tag} at ${engine.where}: ${reasonOf(cause)}`, { cause });
  }
}
