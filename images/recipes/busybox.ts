import { readFile, realpath } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { FaultlineError } from '../../runner/core/errors.js';
import { hashParts } from '../../runner/core/hash.js';
import { reasonOf, type Engine } from '../../runner/core/engine/engine.js';
import { inspectImage, type EngineImage } from '../../runner/core/engine/images.js';
import { projectRoot } from '../../runner/core/paths.js';
import { requireTool } from '../../runner/core/tools.js';
import { buildFromContext } from '../docker/dockerfile.js';
import { isStaticElf } from '../elf.js';
import { BUSYBOX_APPLETS } from '../initramfs.js';
import { imageLabels, recipeImageName, RECIPE_LABEL } from './labels.js';
import type { RecipeOptions } from './options.js';

export const busyboxRecipeDir = (): string => join(projectRoot, 'images', 'recipes', 'busybox');

// The built-in busybox userland as the engine's image faultline/busybox, from images/recipes/busybox/
// with the host's static busybox (the one the built-in image packs) and the same applets. Kept
// when the engine has it from the same Dockerfile, busybox and applets already; built again
// (another engine, --rebuild), it is the same layer, so its export in the cache is reused.
export async function buildBusyboxRecipe(engine: Engine, o: RecipeOptions): Promise<EngineImage> {
  const dir = busyboxRecipeDir();
  const busyboxPath = await realpath(await requireTool('busybox', 'busybox-static'));
  const [dockerfile, busybox] = await Promise.all([readFile(join(dir, 'Dockerfile')), readFile(busyboxPath)]);
  if (!isStaticElf(busybox)) {
    throw new FaultlineError('image', `busybox at ${busyboxPath} is not a static x86-64 ELF executable`, { where: busyboxPath, hint: 'apt-get install busybox-static (the dynamic busybox cannot run in the guest)' });
  }
  const hash = hashParts(['busybox-image-2', dockerfile, BUSYBOX_APPLETS.join(' '), busybox]);
  const tag = recipeImageName('busybox');
  const before = await labelsOf(engine, tag);
  if (!o.rebuild && before?.labels[RECIPE_LABEL] === hash) {
    o.onProgress?.(`${tag} is up to date (recipe ${hash})`);
    return inspectImage(engine, tag);
  }
  const image = await buildFromContext(engine, await busyboxContext(dockerfile, busybox), dir, { ...o, tag, labels: imageLabels('busybox', hash) });
  // The image this one replaced under the tag is left without a name: removed unless in use.
  if (before && before.id !== image.id) await engine.docker.getImage(before.id).remove({ noprune: false }).catch(() => undefined);
  return image;
}

async function labelsOf(engine: Engine, tag: string): Promise<{ id: string; labels: Record<string, string> } | null> {
  try {
    const info = await engine.docker.getImage(tag).inspect();
    return { id: info.Id, labels: (info.Config?.Labels as Record<string, string> | null) ?? {} };
  } catch (cause) {
    if ((cause as { statusCode?: number }).statusCode === 404) return null;
    throw new FaultlineError('engine', `cannot inspect the image ${tag} at ${engine.where}: ${reasonOf(cause)}`, { cause });
  }
}

// The layer's files keep their context's times: one fixed time for all makes the layer, and so
// the image's content key, the same on every engine.
const fixedTime = new Date('2000-01-01T00:00:00Z');

// tar-stream is loaded only here: a run that builds no image never pays for it.
async function busyboxContext(dockerfile: Buffer, busybox: Buffer): Promise<Readable> {
  const { pack } = await import('tar-stream');
  const tar = pack();
  const at = { mtime: fixedTime, uid: 0, gid: 0 };
  tar.entry({ name: 'Dockerfile', mode: 0o644, ...at }, dockerfile);
  for (const dir of ['rootfs', 'rootfs/bin', 'rootfs/dev', 'rootfs/proc', 'rootfs/sys']) tar.entry({ name: dir, type: 'directory', mode: 0o755, ...at });
  tar.entry({ name: 'rootfs/tmp', type: 'directory', mode: 0o1777, ...at });
  tar.entry({ name: 'rootfs/bin/busybox', mode: 0o755, ...at }, busybox);
  for (const applet of BUSYBOX_APPLETS) tar.entry({ name: `rootfs/bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777, ...at });
  tar.finalize();
  return tar as unknown as Readable;
}
