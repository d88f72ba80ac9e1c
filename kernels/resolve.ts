import { readFile } from 'node:fs/promises';
import { release as osRelease, version as osVersion } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bzImageRelease, readBzImageHead } from './bzimage.js';
import { assertKernelOptions, parseKernelConfig } from './config.js';
import { fetchDebianKernel, loadDebianPackageFile, resolveMetaPackage, type DebianProgress } from './debian.js';
import { isDirectory as isDir, isFile } from '../runner/core/files.js';
import { projectRoot } from '../runner/core/paths.js';
import { hashParts } from '../runner/core/hash.js';
import { buildSourceKernel, type BuildProgress, type BuildEnvRecord } from './source/build.js';
import { FaultlineError } from '../runner/core/errors.js';
import { hostBuildEnv, type BuildEnv } from '../runner/core/engine/build-env.js';
import { sourceSeries } from './source/series-of.js';
import type { SourceBuildInputs } from './source/selftests.js';
import { commitOf } from './source/revision.js';
import { formatKernelSpec, type KernelSpec, type SourceSpec } from './spec.js';

// Everything later stages need to know about a kernel, whatever kind of spec produced it.
export interface ResolvedKernel {
  /** What the kernel is, by content: the same package, image or build gives the same id on any
   * machine and in any run, and a different one never does. Results are keyed by it. */
  id: string;
  /** A readable name for reports (the release, the file or tree name, "host"); never a key. */
  label: string;
  spec: string;
  /** The bzImage to boot; null for the host. */
  image: string | null;
  release: string | null;
  config: Map<string, string> | null;
  /** Exported UAPI headers (`make headers` output) when known. */
  headersDir: string | null;
  cached: boolean;
  /** For a kernel faultline built: what its own selftests are built from. */
  source?: SourceBuildInputs;
  /** For a kernel faultline built: config fragment lines its tree has no option for (skipped). */
  configNotes?: string[];
  /** For a kernel faultline built: its tree's commit (null outside git), its .config, its build key, where it was compiled. */
  build?: { commit: string | null; configSha256: string; buildKey: string; buildEnv: BuildEnvRecord };
}

export interface ResolveOptions {
  cacheDir: string;
  signal?: AbortSignal;
  onProgress?: (progress: BuildProgress | DebianProgress) => void;
  /** Turns a source kernel's build image name (`build-image`, `--build-image`) into the engine's
   * image; the drivers know the engine and the recipes, the kernel stage does not. */
  buildEnvOf?: (imageName: string) => Promise<BuildEnv>;
}

// One entry point for the kernel stage: fetch, locate or build; read the release; check the config.
export async function resolveKernel(spec: KernelSpec, options: ResolveOptions): Promise<ResolvedKernel> {
  const text = formatKernelSpec(spec);
  if (spec.kind === 'host') return resolveHost(text);
  if (spec.kind === 'source') return resolveSource(spec, text, options);
  if (spec.kind === 'debian' || spec.kind === 'deb') {
    const fetched = spec.kind === 'deb' ? await loadDebianPackageFile(spec.path, options) : await fetchDebianKernel(await resolveMetaPackage(spec.package, options.signal), options);
    const release = bzImageRelease(await readBzImageHead(fetched.image)) ?? fetched.release;
    const config = fetched.configPath ? parseKernelConfig(await readFile(fetched.configPath, 'utf8')) : null;
    if (config) assertKernelOptions(config, text);
    return { id: `deb-${basename(fetched.dir)}`, label: release, spec: text, image: fetched.image, release, config, headersDir: null, cached: fetched.cached };
  }
  const release = bzImageRelease(await readBzImageHead(spec.path));
  const configPath = await findConfigBeside(spec.path);
  const config = configPath ? parseKernelConfig(await readFile(configPath, 'utf8')) : null;
  if (config && configPath) assertKernelOptions(config, `${text} (config ${configPath})`);
  const tree = buildTreeOf(spec.path);
  const headers = tree ? join(tree, 'usr', 'include') : null;
  return {
    id: `image-${hashParts([await readFile(spec.path)])}`,
    label: tree ? basename(tree) : basename(spec.path),
    spec: text,
    image: spec.path,
    release,
    config,
    headersDir: headers && (await isDir(join(headers, 'linux'))) ? headers : null,
    cached: true,
  };
}

/** The shipped fragment: what the guest and the suites need, merged over every source build. */
export const shippedFragment = join(projectRoot, 'kernels', 'configs', 'faultline.config');

async function resolveSource(spec: SourceSpec, text: string, options: ResolveOptions): Promise<ResolvedKernel> {
  const { base, patches, start } = await sourceSeries(spec, options.cacheDir);
  const env = await sourceBuildEnv(spec, text, options);
  const built = await buildSourceKernel(
    { tree: base, patches, base: spec.base, fragments: [shippedFragment, ...spec.fragments] },
    { cacheDir: options.cacheDir, env, ...(options.signal ? { signal: options.signal } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) },
  );
  assertKernelOptions(built.config, text);
  const name = spec.definition ? basename(spec.definition).replace(/\.ya?ml$/, '') : basename(spec.tree);
  return {
    id: `source-${built.key}`,
    label: patches.length ? `${name}+${patches.length}` : name,
    spec: text,
    image: built.image,
    release: built.release,
    config: built.config,
    headersDir: built.headersDir,
    cached: built.cached,
    source: { tree: base, patches, objDir: built.objDir, headersDir: built.headersDir, env },
    configNotes: built.configNotes,
    build: { commit: await commitOf(spec.tree, start), configSha256: built.configSha256, buildKey: built.key, buildEnv: built.buildEnv },
  };
}

async function sourceBuildEnv(spec: SourceSpec, text: string, options: ResolveOptions): Promise<BuildEnv> {
  if (spec.buildImage === undefined) return hostBuildEnv;
  if (!options.buildEnvOf) {
    throw new FaultlineError('usage', `${text} is to be built in the image ${spec.buildImage}, and this command builds only on the host`, {
      where: spec.definition ?? spec.tree,
      hint: 'Build it with `faultline build` or `faultline run`.',
    });
  }
  return options.buildEnvOf(spec.buildImage);
}

async function resolveHost(text: string): Promise<ResolvedKernel> {
  const release = osRelease();
  const config = await readHostConfig(release);
  if (config) assertKernelOptions(config, text, 'suites');
  return { id: `host-${hashParts([release, osVersion()])}`, label: 'host', spec: text, image: null, release, config, headersDir: null, cached: true };
}

async function readHostConfig(release: string): Promise<Map<string, string> | null> {
  try {
    return parseKernelConfig(await readFile(`/boot/config-${release}`, 'utf8'));
  } catch {
    // no /boot config: fall back to the running kernel's own copy, if it was built with one
  }
  try {
    return parseKernelConfig(gunzipSync(await readFile('/proc/config.gz')).toString('utf8'));
  } catch {
    return null;
  }
}

/** A kernel build tree (O= directory) when the image is its arch/x86/boot/bzImage. */
function buildTreeOf(image: string): string | null {
  const boot = dirname(image);
  return basename(image) === 'bzImage' && basename(boot) === 'boot' && basename(dirname(boot)) === 'x86'
    ? dirname(dirname(dirname(boot)))
    : null;
}

// A file kernel's config sits beside it (/boot/vmlinuz-R and /boot/config-R) or at the top of
// its build tree (.config).
async function findConfigBeside(image: string): Promise<string | null> {
  const name = basename(image);
  const candidates: string[] = [];
  if (name.startsWith('vmlinuz-')) candidates.push(join(dirname(image), `config-${name.slice('vmlinuz-'.length)}`));
  const tree = buildTreeOf(image);
  if (tree) candidates.push(join(tree, '.config'));
  for (const candidate of candidates) {
    if (await isFile(candidate)) return candidate;
  }
  return null;
}

