import { FaultlineError } from '../../runner/core/errors.js';
import type { Engine } from '../../runner/core/engine/engine.js';
import type { EngineImage } from '../../runner/core/engine/images.js';
import { buildBusyboxRecipe } from './busybox.js';
import { buildDebootstrapRecipe } from './debootstrap.js';
import type { RecipeOptions } from './options.js';

/** The images faultline can make without a registry: `faultline image build NAME`. */
export const shippedRecipes = ['busybox', 'debian', 'debian-build'] as const;
export type ShippedRecipe = (typeof shippedRecipes)[number];

export const isShippedRecipe = (name: string): name is ShippedRecipe => (shippedRecipes as readonly string[]).includes(name);

/** The engine's image faultline/NAME of a shipped recipe, built (or found current) now. */
export async function buildRecipeImage(engine: Engine, name: string, o: RecipeOptions): Promise<EngineImage> {
  if (!isShippedRecipe(name)) {
    throw new FaultlineError('usage', `there is no shipped image recipe called ${JSON.stringify(name)}`, { hint: `The recipes are ${shippedRecipes.join(', ')}.` });
  }
  if (name === 'busybox') return buildBusyboxRecipe(engine, o);
  return buildDebootstrapRecipe(engine, name, o);
}
