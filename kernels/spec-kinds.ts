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
  /** From the definition's `image`: the guest userland for this kernel (as `--image` takes it). */
  image?: string;
  /** From the definition's `build-image`: the image the whole build runs in (as `--build-image` takes it). */
  buildImage?: string;
}

// What the user asked to run on: a Debian package, a bzImage on disk, a source tree, or the host.
export type KernelSpec =
  | { kind: 'debian'; package: string }
  | { kind: 'deb'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'host' }
  | SourceSpec;
