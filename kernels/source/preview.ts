import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashParts } from '../../runner/core/hash.js';
import { isFaultlineError, type FaultlineError } from '../../runner/core/errors.js';
import { pathExists } from '../../runner/core/files.js';
import { readConfigInputs, type SourceKernelRequest } from './build.js';
import { mergeConfig, resolveFragmentsForTree } from './configure.js';
import { notInKernelNotes } from './fragment.js';
import { runMake } from './make.js';
import { requireKernelBuildTools } from './tools.js';
import { checkKernelTree } from './tree.js';

export interface ConfigPreview {
  tree: string;
  /** VERSION.PATCHLEVEL.SUBLEVEL from the tree's Makefile. */
  version: string | null;
  /** Fragment lines the tree has no option for: what a build would skip. */
  notes: string[];
  /** "path:line: <setting>" for each set of alternatives, the one this tree takes. */
  chosen: string[];
  /** How many settings the fragments merge. */
  merged: number;
  /** Whether olddefconfig was run on the merge (a tree with an in-tree build cannot take O=). */
  checked: boolean;
  /** Where the trial .config is, when checked. */
  dotConfig: string | null;
  /** Options that did not stick, as a build would report them. */
  failure: FaultlineError | null;
}

// What a build's config stage would do to a tree, in seconds and without building: the fragments
// resolved against the tree's Kconfig, then merged over the base in a throw-away object directory
// under the cache, where olddefconfig shows whether every option sticks. The tree is not written.
export async function previewTreeConfig(req: Pick<SourceKernelRequest, 'tree' | 'base' | 'fragments'>, opts: { cacheDir: string; signal?: AbortSignal }): Promise<ConfigPreview> {
  const root = await checkKernelTree(req.tree);
  const config = await readConfigInputs(req);
  const fragments = await resolveFragmentsForTree(root, config.fragments.map((f) => f.parsed));
  const preview: ConfigPreview = {
    tree: root,
    version: await treeVersion(root),
    notes: notInKernelNotes(fragments),
    chosen: fragments.flatMap((f) => f.chosen.map((c) => `${f.path}:${c.setting.line}: ${c.setting.text}`)),
    merged: fragments.reduce((n, f) => n + f.settings.length, 0),
    checked: false,
    dotConfig: null,
    failure: null,
  };
  if ((await pathExists(join(root, '.config'))) || (await pathExists(join(root, 'include', 'config')))) return preview;
  await requireKernelBuildTools();
  const objDir = join(opts.cacheDir, 'kernels', 'preview', hashParts(['faultline-preview-1', root]));
  await rm(objDir, { recursive: true, force: true });
  await mkdir(objDir, { recursive: true });
  const logPath = join(objDir, 'config.log');
  await writeFile(logPath, '');
  const make = async (args: string[]) => {
    const r = await runMake(['-C', root, `O=${objDir}`, 'ARCH=x86_64', ...args], { cwd: root, logPath, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (r.aborted) opts.signal?.throwIfAborted();
    return r.exitCode;
  };
  const base = config.basePath ? { path: config.basePath } : { name: req.base };
  const failure = await mergeConfig({ objDir, base, fragments, make, logPath, progress: () => {} }).then(
    () => null,
    (error: unknown) => {
      if (isFaultlineError(error) && error.kind === 'build') return error;
      throw error;
    },
  );
  return { ...preview, checked: true, dotConfig: join(objDir, '.config'), failure };
}

async function treeVersion(root: string): Promise<string | null> {
  const makefile = await readFile(join(root, 'Makefile'), 'utf8').catch(() => '');
  const field = (name: string) => new RegExp(`^${name}\\s*=\\s*(\\d+)\\s*$`, 'm').exec(makefile)?.[1];
  const [v, p, s] = [field('VERSION'), field('PATCHLEVEL'), field('SUBLEVEL')];
  return v && p ? `${v}.${p}${s ? `.${s}` : ''}` : null;
}
