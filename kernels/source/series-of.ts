import type { SourceSpec } from '../spec-kinds.js';
import { isCommitRange, loadPatchSeries, type Patch } from './patches.js';
import { treeAtRevision } from './revision.js';

/** The tree a source kernel's series goes onto, and the series as applied. */
export interface SourceSeries {
  /** The user's tree, or for a commit range A..B the tree at A (exported into the cache). */
  base: string;
  /** The series, cut to its first `take` patches. */
  patches: Patch[];
  /** The revision `base` is: A of a commit range, else HEAD. */
  start: string;
}

// One reading of a source spec for everything that needs the tree as the kernel is built from it:
// the build itself, and the selftest case list read before the build.
// `load` reads the series (a caller planning many prefixes of one series reads it once).
export async function sourceSeries(spec: SourceSpec, cacheDir: string, load: typeof loadPatchSeries = loadPatchSeries): Promise<SourceSeries> {
  const series = await load(spec.patches, spec.tree);
  const patches = spec.take === undefined ? series : series.slice(0, spec.take);
  const range = spec.patches.find(isCommitRange);
  const start = range ? range.slice(0, range.indexOf('..')) : 'HEAD';
  const base = range ? await treeAtRevision(spec.tree, start, cacheDir) : spec.tree;
  return { base, patches, start };
}
