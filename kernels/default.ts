import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../runner/core/paths.js';
import { resolveMetaPackage } from './debian.js';

/** The meta package whose dependency names the current Debian cloud kernel. */
export const DEFAULT_KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

const aptLists = '/var/lib/apt/lists';

// The default kernel follows Debian: whatever the cloud meta package currently depends on,
// e.g. linux-image-6.1.0-56-cloud-amd64. Asking apt costs most of a second, so the answer is
// kept until apt's package lists change (`apt-get update` rewrites them).
export async function defaultKernelPackage(cache = cacheDir()): Promise<string> {
  const listsChanged = await stat(aptLists).then((s) => s.mtimeMs, () => 0);
  const memo = join(cache, 'kernels', 'default.json');
  const known = await readFile(memo, 'utf8').then((t) => JSON.parse(t) as { listsChanged: number; package: string }, () => null);
  if (known && known.listsChanged === listsChanged && listsChanged !== 0) return known.package;
  const pkg = await resolveMetaPackage(DEFAULT_KERNEL_META_PACKAGE);
  await mkdir(join(cache, 'kernels'), { recursive: true });
  await writeFile(memo, JSON.stringify({ listsChanged, package: pkg }));
  return pkg;
}

// The same default as a `--kernel` spec.
export async function defaultKernelSpec(): Promise<string> {
  return `debian:${await defaultKernelPackage()}`;
}
