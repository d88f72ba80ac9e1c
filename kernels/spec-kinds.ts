/** A source tree plus a patch series and config, built by faultline (`take`: only the first N patches). */
export interface SourceSpec {
  kind: 'source';
  tree: string;
  patches: string[];
  base: string;
  fragments: string[];
  take?: number;
  /** The kernels/NAME.yaml it came from, if any. */
  definition?: string;
}

// What the user asked to run on: a Debian package, a bzImage on disk, a source tree, or the host.
export type KernelSpec =
  | { kind: 'debian'; package: string }
  | { kind: 'deb'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'host' }
  | SourceSpec;
