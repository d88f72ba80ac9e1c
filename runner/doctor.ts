import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { isStaticElf } from '../images/elf.js';
import { defaultKernelSpec } from '../kernels/default.js';
import { resolveKernel } from '../kernels/resolve.js';
import { parseKernelSpec } from '../kernels/spec.js';
import { requireKernelBuildTools } from '../kernels/source/tools.js';
import { previewTreeConfig } from '../kernels/source/preview.js';
import type { SourceKernelRequest } from '../kernels/source/build.js';
import { FaultlineError } from './core/errors.js';
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

// What `faultline doctor` checks, in the order a run needs it. Each check uses the same code the
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
  {
    name: 'docker',
    run: async () => {
      const host = process.env.DOCKER_HOST;
      if (!host) return 'not configured (set DOCKER_HOST=unix:///path/to/docker.sock to check it)';
      const socket = host.replace(/^unix:\/\//, '');
      await new Promise<void>((resolve, reject) => {
        const conn = connect(socket, () => conn.end(resolve));
        conn.on('error', (cause) => reject(new FaultlineError('tool', `no Docker engine answers on ${socket}`, { hint: 'Start dockerd (apt-get install docker.io) with --host unix://' + socket, cause })));
      });
      return `${socket} answers`;
    },
  },
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
