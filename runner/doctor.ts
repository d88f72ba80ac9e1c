import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireDockerfile } from '../images/docker/dockerfile.js';
import { isStaticElf } from '../images/elf.js';
import { parseImageName } from '../images/guest-image.js';
import { recipeImageName } from '../images/recipes/labels.js';
import { defaultKernelSpec } from '../kernels/default.js';
import { resolveKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { requireKernelBuildTools } from '../kernels/source/tools.js';
import { previewTreeConfig } from '../kernels/source/preview.js';
import type { SourceKernelRequest } from '../kernels/source/build.js';
import { connectEngine, type Engine } from './core/engine/engine.js';
import { inspectImage, type EngineImage } from './core/engine/images.js';
import { FaultlineError, isFaultlineError } from './core/errors.js';
import { buildHelper } from './helper/build.js';
import { usableCacheDir } from './core/paths.js';
import { chooseAccel } from './qemu/accel.js';
import { pdeathsigWrapper } from './qemu/pdeathsig.js';
import { requireTool } from './core/tools.js';

/** What a check found, and anything worth a line of its own that is not a failure. */
export interface Found {
  found: string;
  notes?: string[];
  /** Set when the check failed after finding what `found` and `notes` say. */
  failure?: FaultlineError;
}

export interface Check {
  name: string;
  /** Resolves to what was found; throws a FaultlineError whose hint is the fix. */
  run(cacheDir: string): Promise<string | Found>;
}

// What `faultline doctor` checks, in the order a run needs it (the Docker engine's checks, which
// only some runs need, are engineChecks below). Each check uses the same code the
// run itself uses, so a green doctor means the stage will not fail for that reason.
export const checks: readonly Check[] = [
  {
    name: 'cache',
    run: async () => usableCacheDir(),
  },
  { name: 'qemu', run: async () => firstLine(await execa(await requireTool('qemu-system-x86_64', 'qemu-system-x86'), ['--version'])) },
  {
    name: 'setpriv',
    run: async () => {
      const setpriv = await pdeathsigWrapper();
      if (!setpriv) throw new FaultlineError('tool', 'no setpriv with --pdeathsig: a QEMU could outlive a faultline killed outright', { hint: 'apt-get install util-linux' });
      return `${setpriv} --pdeathsig (QEMU dies with faultline)`;
    },
  },
  {
    name: 'busybox',
    run: async () => {
      const path = await requireTool('busybox', 'busybox-static');
      if (!isStaticElf(await readFile(path))) throw new FaultlineError('tool', `${path} is not statically linked`, { hint: 'apt-get install busybox-static' });
      return `${path} (static)`;
    },
  },
  { name: 'cpio', run: async () => firstLine(await execa(await requireTool('cpio', 'cpio'), ['--version'])) },
  {
    name: 'helper',
    run: async (cacheDir) => {
      const helper = await buildHelper({ headersDir: null, cacheDir });
      return `gcc -static builds the uffd helper (${helper.compiler})`;
    },
  },
  {
    name: 'accel',
    run: async (cacheDir) => {
      const kernel = await resolveKernel(parseKernelSpec(await defaultKernelSpec()), { cacheDir });
      const accel = await chooseAccel('auto', kernel.image!, cacheDir);
      return `${accel.accel}: ${accel.reason}`;
    },
  },
  kbuildCheck(),
];

function kbuildCheck(): Check {
  return {
    name: 'kbuild',
    run: async () => {
      await requireKernelBuildTools();
      return 'make, gcc, flex, bison, bc, perl, libelf and openssl headers for kernels from source';
    },
  };
}

// `doctor --tree`: what building that tree needs, and what its config stage would do, in seconds.
export function treeChecks(req: Pick<SourceKernelRequest, 'tree' | 'base' | 'fragments'>): Check[] {
  return [
    checks[0]!,
    kbuildCheck(),
    {
      name: 'config',
      run: async (cacheDir) => {
        const started = performance.now();
        const preview = await previewTreeConfig(req, { cacheDir });
        const notes = [...preview.chosen.map((c) => `${c} (the alternative this tree has)`), ...preview.notes];
        const what = `${req.base} + ${req.fragments.length} fragment${req.fragments.length === 1 ? '' : 's'} on ${preview.tree}${preview.version ? ` (${preview.version})` : ''}`;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const found = preview.checked
          ? `${what}: all ${preview.merged} settings stick after olddefconfig (${seconds} s; ${preview.dotConfig})`
          : `${what}: ${preview.merged} settings resolve against its Kconfig; olddefconfig not tried, as the tree holds an in-tree build (a build copies it and runs make mrproper)`;
        return { found, notes, ...(preview.failure ? { failure: preview.failure } : {}) };
      },
    },
  ];
}

function firstLine(result: { stdout: string }): string {
  return result.stdout.split('\n')[0] ?? '';
}

/** An image a run would ask for: `--image NAME` (the guest) or `--build-image NAME` (a kernel build). */
export interface AskedImage {
  flag: '--image' | '--build-image';
  name: string;
}

// The Docker engine, required only when an asked image needs one (anything but the built-in
// busybox image); otherwise whether one answers is said and nothing more. Asked once per doctor.
export function engineChecks(asked: readonly AskedImage[]): Check[] {
  let engine: Promise<Engine> | undefined;
  const connect = () => (engine ??= connectEngine());
  const needed = asked.filter((a) => !(a.flag === '--image' && parseImageName(a.name).kind === 'busybox'));
  const engineCheck: Check = {
    name: 'engine',
    run: async () => {
      try {
        const e = await connect();
        const v = (await e.docker.version()) as { Version?: string; ApiVersion?: string };
        return `${e.where} answers: Docker ${v.Version ?? '?'} (API ${v.ApiVersion ?? '?'})`;
      } catch (error) {
        if (needed.length > 0 || !isFaultlineError(error)) throw error;
        return `none answers at ${error.where ?? 'DOCKER_HOST'}; only images other than busybox and --build-image need one (\`doctor --image NAME\` checks for a run that does)`;
      }
    },
  };
  return [engineCheck, ...asked.map((a) => imageCheck(a, connect))];
}

function imageCheck(asked: AskedImage, connect: () => Promise<Engine>): Check {
  return {
    name: 'image',
    run: async () => {
      // As a build image, busybox is the recipe's image, not the built-in initramfs.
      const parsed = asked.flag === '--build-image' && asked.name === 'busybox' ? { kind: 'recipe' as const, recipe: 'busybox' } : parseImageName(asked.name);
      const head = `${asked.flag} ${asked.name}`;
      if (parsed.kind === 'busybox') return `${head}: the built-in image, made without an engine`;
      const engine = await connect().catch((cause: unknown) => {
        throw new FaultlineError('engine', `${head}: not checked, as no engine answers`, { cause });
      });
      if (parsed.kind === 'engine-image') return `${head}: ${describe(await inspectImage(engine, parsed.name))}`;
      if (parsed.kind === 'dockerfile') return `${head}: ${await checkDockerfile(engine, parsed.dir)}`;
      const tag = recipeImageName(parsed.recipe);
      const image = await inspectImage(engine, tag).catch((error: unknown) => {
        if (isFaultlineError(error) && error.kind === 'image') return null;
        throw error;
      });
      if (image) return `${head}: ${describe(image)}`;
      if (parsed.recipe !== 'busybox') await requireTool('debootstrap', 'debootstrap');
      return { found: `${head}: the engine has no ${tag} yet`, notes: [`the first run that asks for it builds it, or now: faultline image build ${parsed.recipe}`] };
    },
  };
}

function describe(image: EngineImage): string {
  return `${image.name} is ${image.id.slice(0, 19)} (${(image.size / 1e6).toFixed(0)} MB)`;
}

// The Dockerfile is there, and every image it builds FROM is one the engine has: no registry is asked.
async function checkDockerfile(engine: Engine, dir: string): Promise<string> {
  await requireDockerfile(dir);
  const file = join(dir, 'Dockerfile');
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const from = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    const base = from[1]!;
    if (base !== 'scratch' && !stages.has(base.toLowerCase()) && !base.includes('$')) bases.push(base);
    if (from[2]) stages.add(from[2].toLowerCase());
  }
  for (const base of bases) {
    await inspectImage(engine, base).catch((error: unknown) => {
      if (!isFaultlineError(error) || error.kind !== 'image') throw error;
      throw new FaultlineError('image', `${file} builds FROM ${base}, which the engine at ${engine.where} does not have (builds ask no registry)`, {
        where: file,
        hint: `Make ${base} first (\`faultline image build NAME\` for a shipped recipe, \`docker import\` of a root tarball, or a Dockerfile FROM scratch), or change the FROM line.`,
      });
    });
  }
  return `${file} builds FROM ${bases.length ? bases.join(', ') : 'scratch'}, which the engine has`;
}
