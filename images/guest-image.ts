import { connectEngine, type Engine } from '../runner/core/engine/engine.js';
import type { EngineImage } from '../runner/core/engine/images.js';
import { sweepStale } from '../runner/core/engine/owner.js';
import { FaultlineError, isFaultlineError } from '../runner/core/errors.js';
import type { ExportedRootfs } from './docker/export.js';
import { engineImageOf, parseImageRef, type ImageRef } from './image-ref.js';
import type { RecipeOptions } from './recipes/options.js';

/** The guest's userland: the built-in busybox image, or an image of a Docker engine with its
 * filesystem exported as the guest's first initramfs segment. */
export type ResolvedGuestImage = { kind: 'busybox' } | { kind: 'engine'; engine: Engine; image: EngineImage; bash: boolean; rootfs: ExportedRootfs };

/** How `--image` (or a kernel definition's `image`) names the guest's userland. */
export type GuestImageName = { kind: 'busybox' } | ImageRef;

export const defaultGuestImage = 'busybox';

// `busybox` is the built-in image (the shipped busybox recipe, equal to it, is recipe:busybox);
// every other name is read as --build-image reads its own, without the engine, so a bad name is
// a usage error before anything runs.
export function parseImageName(name: string): GuestImageName {
  if (name.trim() === defaultGuestImage) return { kind: 'busybox' };
  try {
    return parseImageRef(name, '--image');
  } catch (error) {
    if (!isFaultlineError(error)) throw error;
    const rest = error.hint?.replace(/^Give /, '').replace(/\.$/, '') ?? 'an image name';
    throw new FaultlineError(error.kind, error.message, { hint: `Give busybox (the built-in image, the default) or ${rest}; recipe:busybox is the shipped busybox recipe's image.` });
  }
}

// The busybox image needs no engine and none is contacted; any other connects to the engine
// DOCKER_HOST names, removes what dead faultline runs left in it, builds or finds the image, and
// exports its filesystem (cached by its content: a rerun makes no container).
export async function resolveGuestImage(name: string, o: RecipeOptions & { env?: NodeJS.ProcessEnv }): Promise<ResolvedGuestImage> {
  const parsed = parseImageName(name);
  if (parsed.kind === 'busybox') return { kind: 'busybox' };
  const engine = await connectEngine(o.env);
  await sweepStale(engine);
  const { env: _env, ...recipe } = o;
  const image = await engineImageOf(engine, name, parsed, recipe);
  // the export (and its tar reader) is loaded by runs on an engine's image, not by every busybox start
  const { exportRootfs } = await import('./docker/export.js');
  const rootfs = await exportRootfs(engine, image, { cacheDir: o.cacheDir, ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  return { kind: 'engine', engine, image, bash: rootfs.summary.bash, rootfs };
}
