import { compilerVersion } from '../tools.js';
import type { Engine } from './engine.js';
import type { EngineImage } from './images.js';

// Where a kernel, its headers and its selftests are compiled: with the host's tools, or inside
// a container of an image (a pinned toolchain, or a guest's own libc for dynamically linked tests).
export type BuildEnv = { kind: 'host' } | { kind: 'container'; engine: Engine; image: EngineImage };

export const hostBuildEnv: BuildEnv = { kind: 'host' };

/** What stands for the compiler in a cache key: gcc's version on the host, the image's content in a container. */
export async function buildEnvKey(env: BuildEnv): Promise<string> {
  return env.kind === 'host' ? compilerVersion() : `image:${env.image.contentKey}`;
}

/** How the build environment is named in messages and run.json. */
export function describeBuildEnv(env: BuildEnv): string {
  return env.kind === 'host' ? 'the host' : `the image ${env.image.name} (${env.image.id.slice(0, 19)})`;
}
