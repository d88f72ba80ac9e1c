import { resolveMetaPackage } from './debian.js';

/** The meta package whose dependency names the current Debian cloud kernel. */
export const DEFAULT_KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

// The default kernel follows Debian: whatever the cloud meta package currently depends on,
// e.g. linux-image-6.1.0-56-cloud-amd64.
export async function defaultKernelPackage(): Promise<string> {
  return resolveMetaPackage(DEFAULT_KERNEL_META_PACKAGE);
}

// The same default as a `--kernel` spec.
export async function defaultKernelSpec(): Promise<string> {
  return `debian:${await defaultKernelPackage()}`;
}
