import { isPackageCached } from '../../kernels/debian.js';
import type { DebianGlob } from '../../kernels/debian-glob.js';
import { FaultlineError } from '../core/errors.js';

/** More downloads than this, from `debian:` globs, need `--yes`. */
export const GLOB_DOWNLOADS_WITHOUT_YES = 8;

// A glob can name dozens of packages of tens of MB each; the user confirms before they are all
// fetched. Packages already in the cache cost nothing and do not count; the globs of one run
// count together.
export class GlobDownloads {
  private readonly pending = new Map<string, number>();
  private readonly globs: string[] = [];

  constructor(
    private readonly cacheDir: string,
    private readonly yes: boolean,
  ) {}

  async add(expansion: DebianGlob): Promise<void> {
    this.globs.push(`debian:${expansion.glob}`);
    for (const name of expansion.packages) {
      if (!(await isPackageCached(name, this.cacheDir))) this.pending.set(name, expansion.sizes.get(name) ?? 0);
    }
    const count = this.pending.size;
    if (this.yes || count <= GLOB_DOWNLOADS_WITHOUT_YES) return;
    const bytes = [...this.pending.values()].reduce((a, b) => a + b, 0);
    throw new FaultlineError('usage', `${this.globs.join(' and ')} would download ${count} kernel packages (${formatBytes(bytes)}) that are not in the cache; more than ${GLOB_DOWNLOADS_WITHOUT_YES} need --yes`, {
      hint: 'Add --yes to download them all, or narrow the pattern (e.g. debian:linux-image-6.1.0-*-cloud-amd64).',
    });
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return `${Math.round(bytes / 1e6)} MB`;
}
