import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../../runner/core/errors.js';
import { pathExists as exists } from '../../runner/core/files.js';
import { hashParts } from '../../runner/core/hash.js';
import { bzImageRelease, readBzImageHead } from '../bzimage.js';
import { parseKernelConfig } from '../config.js';
import { applySeries } from './apply.js';
import { mergeConfig } from './configure.js';
import { mergedText, notInKernelNotes, parseFragment, resolveFragment, type ParsedFragment, type ResolvedFragment } from './fragment.js';
import { symbolsAfterSeries, treeKconfigSymbols } from './kconfig-symbols.js';
import { acquireLock } from '../../runner/core/lock.js';
import { buildFailure } from './failure.js';
import { ensureScratchSource } from './scratch.js';
import { requireEngineSeesDirectory } from './engine-mounts.js';
import { toolStep } from './tool-step.js';
import { runMake } from './make.js';
import type { Patch } from './patches.js';
import { parseMakeLine, type BuildProgress } from './progress.js';
import { requireBuildEnvTools } from './tools.js';
import { buildEnvKey, describeBuildEnv, hostBuildEnv, type BuildEnv } from '../../runner/core/engine/build-env.js';
import { checkKernelTree, treeIdentity } from './tree.js';

export type { BuildProgress } from './progress.js';

// What to build: a tree, the series to apply to it, and the config (a base plus fragments).
export interface SourceKernelRequest {
  tree: string;
  patches: Patch[];
  /** 'tinyconfig', 'defconfig', or the path of a .config */
  base: string;
  /** Fragment files, merged in order after the base (the caller adds kernels/configs/faultline.config). */
  fragments: string[];
}

export interface SourceKernel {
  /** The cache key: tree contents, ordered patches, config inputs, compiler. */
  key: string;
  image: string;
  /** UAPI headers from `make headers`; holds linux/userfaultfd.h. */
  headersDir: string;
  config: Map<string, string>;
  /** sha256 of the merged .config, as `sha256sum` gives it for the cached copy. */
  configSha256: string;
  release: string | null;
  cached: boolean;
  logPath: string;
  /** The object directory (O=) this kernel was built in; reused by later builds of the same tree and config. */
  objDir: string;
  /** How many C files this call compiled (0 when cached). */
  compiled: number;
  /** Fragment lines this tree's Kconfig (with the series) has no option for: skipped, and said each time. */
  configNotes: string[];
  /** Where it was compiled: the host's gcc, or an image (by name, id and content). */
  buildEnv: BuildEnvRecord;
}

/** A build environment as the cache entry and run.json name it. */
export type BuildEnvRecord = { kind: 'host'; compiler: string } | { kind: 'image'; name: string; id: string; contentKey: string };

export interface BuildOptions {
  cacheDir: string;
  signal?: AbortSignal;
  onProgress?: (p: BuildProgress) => void;
  /** Where make, its config steps and `make headers` run: the host (default) or a container of an image. */
  env?: BuildEnv;
}

const namedBases = new Set(['tinyconfig', 'defconfig']);

/** A config base kbuild makes itself, as opposed to a .config file. */
export function isNamedBase(base: string): boolean {
  return namedBases.has(base);
}
const ARCH = 'ARCH=x86_64';

export interface ConfigInputs {
  /** The base as it enters the key: its name, or its content. */
  baseKey: string;
  basePath: string | null;
  fragments: Array<{ path: string; text: string; parsed: ParsedFragment }>;
}

// A tree plus a series plus a config becomes a bootable kernel, built once: finished kernels
// are copied out of the object tree into the cache under their key, and the scratch copy and
// object tree are kept per (tree, config) so the next series rebuilds incrementally.
export async function buildSourceKernel(req: SourceKernelRequest, opts: BuildOptions): Promise<SourceKernel> {
  opts.signal?.throwIfAborted();
  // The build runs in a copy under the cache, and kbuild stops on a path with spaces or colons.
  if (/[\s:]/.test(opts.cacheDir)) {
    throw new FaultlineError('io', `kbuild cannot build under the cache directory "${opts.cacheDir}": its path has a space or a colon`, {
      hint: 'set FAULTLINE_CACHE (or XDG_CACHE_HOME) to a directory whose path has neither',
    });
  }
  const root = await checkKernelTree(req.tree);
  const config = await readConfigInputs(req);
  const env = opts.env ?? hostBuildEnv;
  // the compiler in the key: gcc's version on the host, the image's content in a container
  const [identity, compiler] = await Promise.all([treeIdentity(root, { cacheDir: opts.cacheDir }), buildEnvKey(env)]);
  // The key holds what is merged, not what the fragments say: an option the tree lacks changes
  // nothing, and one fragment's alternatives give each tree its own.
  const symbols = symbolsAfterSeries(await treeKconfigSymbols(root, identity.id, opts.cacheDir), req.patches);
  const fragments = config.fragments.map((f) => resolveFragment(f.parsed, symbols));
  const configNotes = notInKernelNotes(fragments);
  const configParts = [config.baseKey, settingsOf(mergedText(fragments))];
  const key = hashParts([
    'faultline-source-kernel-1',
    identity.id,
    ...configParts,
    compiler,
    String(req.patches.length),
    ...req.patches.flatMap((p) => [String(p.strip ?? 1), p.text]),
  ]);
  const kernelsDir = join(opts.cacheDir, 'kernels', 'source');
  const outDir = join(kernelsDir, key);
  const scratch = join(kernelsDir, 'work', hashParts(['faultline-scratch-1', identity.id, ...configParts, compiler]));
  const objDir = join(scratch, 'obj');

  const buildEnvRecord = buildEnvRecordOf(env, compiler);
  const hit = await readCached(outDir, key, objDir, configNotes, buildEnvRecord);
  if (hit) return hit;

  await requireBuildEnvTools(env);
  await mkdir(scratch, { recursive: true });
  const lock = await acquireLock(join(scratch, 'lock'), {
    ...(opts.signal ? { signal: opts.signal } : {}),
    onWait: (pid) => opts.onProgress?.({ step: 'copy', detail: `waiting for process ${pid}, which is building in ${scratch}` }),
  });
  try {
    // whoever held the lock may just have built this very kernel
    const built = await readCached(outDir, key, objDir, configNotes, buildEnvRecord);
    if (built) return built;
    return await buildLocked({ req, opts, env, buildEnvRecord, root, config, fragments, configNotes, key, outDir, scratch, objDir, compiler, treeId: identity.id });
  } finally {
    await lock.release();
  }
}

export async function readConfigInputs(req: Pick<SourceKernelRequest, 'base' | 'fragments'>): Promise<ConfigInputs> {
  let baseKey: string;
  let basePath: string | null = null;
  if (isNamedBase(req.base)) baseKey = `make ${req.base}`;
  else {
    basePath = resolve(req.base);
    const text = await readFile(basePath, 'utf8').catch(() => null);
    if (text === null) {
      throw new FaultlineError('usage', `config base ${req.base} is neither tinyconfig, defconfig nor a readable file`, {
        where: req.base,
        hint: 'use tinyconfig (the default), defconfig, or the path of a complete .config',
      });
    }
    baseKey = `file\n${text}`;
  }
  const fragments: ConfigInputs['fragments'] = [];
  for (const fragment of req.fragments) {
    const path = resolve(fragment);
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) {
      throw new FaultlineError('usage', `config fragment ${fragment} cannot be read`, {
        where: fragment,
        hint: 'a fragment is a file of CONFIG_X=y and "# CONFIG_X is not set" lines',
      });
    }
    fragments.push({ path, text, parsed: parseFragment(path, text) });
  }
  return { baseKey, basePath, fragments };
}

interface Meta {
  key: string;
  release: string | null;
  compiled: number;
}

function buildEnvRecordOf(env: BuildEnv, compiler: string): BuildEnvRecord {
  return env.kind === 'host' ? { kind: 'host', compiler } : { kind: 'image', name: env.image.name, id: env.image.id, contentKey: env.image.contentKey };
}

async function readCached(outDir: string, key: string, objDir: string, configNotes: string[], buildEnv: BuildEnvRecord): Promise<SourceKernel | null> {
  const meta = await readFile(join(outDir, 'meta.json'), 'utf8').then((t) => JSON.parse(t) as Meta, () => null);
  if (!meta || meta.key !== key) return null;
  const dotConfig = await readFile(join(outDir, 'config'), 'utf8');
  return {
    key,
    image: join(outDir, 'bzImage'),
    headersDir: join(outDir, 'include'),
    config: parseKernelConfig(dotConfig),
    configSha256: sha256(dotConfig),
    release: meta.release,
    cached: true,
    logPath: join(outDir, 'build.log'),
    objDir,
    compiled: 0,
    configNotes,
    buildEnv,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A fragment's settings without its comments and blank lines: rewording a comment rebuilds nothing. */
export function settingsOf(fragment: string): string {
  return fragment
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && (!line.startsWith('#') || / is not set$/.test(line)))
    .join('\n');
}

async function buildLocked(ctx: {
  req: SourceKernelRequest;
  opts: BuildOptions;
  env: BuildEnv;
  buildEnvRecord: BuildEnvRecord;
  root: string;
  config: ConfigInputs;
  fragments: ResolvedFragment[];
  configNotes: string[];
  key: string;
  outDir: string;
  scratch: string;
  objDir: string;
  compiler: string;
  treeId: string;
}): Promise<SourceKernel> {
  const { req, opts, env, root, scratch, objDir, key } = ctx;
  const progress = opts.onProgress ?? (() => {});
  const signal = opts.signal;
  const src = join(scratch, 'src');
  const logs = join(scratch, 'logs');
  await mkdir(logs, { recursive: true });
  const logPath = join(logs, `${key}.log`);
  await writeFile(logPath, '');
  // in a container the scratch directory (the tree and the object directory) is mounted at its own path
  const make = async (args: string[], onLine?: (line: string) => void) => {
    const r = await runMake(['-C', src, `O=${objDir}`, ARCH, ...args], { cwd: src, logPath, env, mounts: [scratch], ...(signal ? { signal } : {}), ...(onLine ? { onLine } : {}) });
    if (r.aborted) signal?.throwIfAborted();
    return r.exitCode;
  };

  if (env.kind === 'container') await requireEngineSeesDirectory(env, scratch, signal);
  await ensureScratchSource({ root, scratch, logPath, progress, env, ...(signal ? { signal } : {}) });
  await mkdir(objDir, { recursive: true });

  const { written } = await applySeries({
    tree: root,
    scratch,
    src,
    patches: req.patches,
    onPatch: (patch, i) => progress({ step: 'patch', detail: `${i + 1}/${req.patches.length} ${patch.name}` }),
    ...(signal ? { signal } : {}),
  });

  // the scratch copy is keyed by every config input, so the merged config only changes when a
  // patch edits Kconfig: otherwise the checked .config of the last run is still right. The marker
  // says that .config was configured and checked to the end.
  const stamp = join(scratch, 'config-stamp');
  const kconfigChanged = written.some((rel) => /(^|\/)Kconfig[^/]*$|^arch\/x86\/configs\/|^kernel\/configs\//.test(rel));
  const reuse = !kconfigChanged && (await exists(stamp)) && (await exists(join(objDir, '.config')));
  let dotConfig: string;
  if (reuse) dotConfig = await readFile(join(objDir, '.config'), 'utf8');
  else {
    await rm(stamp, { force: true });
    dotConfig = await configure(ctx, make, progress, logPath);
    await writeFile(stamp, 'configured and checked\n');
  }

  let compiled = 0;
  const compileLine = (line: string) => {
    const p = parseMakeLine(line);
    if (!p) return;
    if (p.action === 'CC') compiled++;
    progress(p);
  };
  const jobs = `-j${availableParallelism()}`;
  progress({ step: 'compile', detail: `make ${jobs} bzImage${env.kind === 'container' ? ` in ${describeBuildEnv(env)}` : ''}` });
  if ((await make([jobs, 'bzImage'], compileLine)) !== 0) {
    throw await buildFailure('the kernel does not build', logPath, src);
  }
  progress({ step: 'headers', detail: 'make headers' });
  if ((await make(['headers'])) !== 0) throw await buildFailure('make headers failed', logPath, src);

  const image = join(objDir, 'arch', 'x86', 'boot', 'bzImage');
  const release = bzImageRelease(await readBzImageHead(image));
  await mkdir(join(ctx.outDir, '..'), { recursive: true });
  const tmp = await mkdtemp(join(ctx.outDir, '..', `.tmp-${key}-`));
  try {
    await copyFile(image, join(tmp, 'bzImage'));
    await writeFile(join(tmp, 'config'), dotConfig);
    await toolStep('storing the built headers', tmp, () => execa('cp', ['-a', join(objDir, 'usr', 'include'), join(tmp, 'include')], { stdin: 'ignore' }));
    await copyFile(logPath, join(tmp, 'build.log'));
    const meta = {
      key,
      release,
      compiled,
      tree: root,
      treeId: ctx.treeId,
      patches: req.patches.map((p) => ({ name: p.name, origin: p.origin })),
      base: req.base,
      fragments: ctx.config.fragments.map((f) => f.path),
      compiler: ctx.compiler,
      buildEnv: ctx.buildEnvRecord,
      configNotes: ctx.configNotes,
      builtAt: new Date().toISOString(),
    };
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 1));
    await rm(ctx.outDir, { recursive: true, force: true });
    await rename(tmp, ctx.outDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return {
    key,
    image: join(ctx.outDir, 'bzImage'),
    headersDir: join(ctx.outDir, 'include'),
    config: parseKernelConfig(dotConfig),
    configSha256: sha256(dotConfig),
    release,
    cached: false,
    logPath: join(ctx.outDir, 'build.log'),
    objDir,
    compiled,
    configNotes: ctx.configNotes,
    buildEnv: ctx.buildEnvRecord,
  };
}

// base, then the resolved fragments, then olddefconfig. The object tree's .config keeps its mtime
// when its content comes out the same, so an unchanged config does not make kbuild re-sync anything.
async function configure(
  ctx: { req: SourceKernelRequest; config: ConfigInputs; fragments: ResolvedFragment[]; configNotes: string[]; objDir: string },
  make: (args: string[]) => Promise<number>,
  progress: (p: BuildProgress) => void,
  logPath: string,
): Promise<string> {
  const dotConfigPath = join(ctx.objDir, '.config');
  const before = await stat(dotConfigPath).then(
    async (s) => ({ text: await readFile(dotConfigPath, 'utf8'), atime: s.atime, mtime: s.mtime }),
    () => null,
  );
  if (ctx.configNotes.length > 0) await appendFile(logPath, ctx.configNotes.map((n) => `faultline: ${n}\n`).join(''));
  const base = ctx.config.basePath ? { path: ctx.config.basePath } : { name: ctx.req.base };
  const dotConfig = await mergeConfig({ objDir: ctx.objDir, base, fragments: ctx.fragments, make, logPath, progress });
  if (before && before.text === dotConfig) await utimes(dotConfigPath, before.atime, before.mtime);
  return dotConfig;
}
