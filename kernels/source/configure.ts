import { appendFile, copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultlineError } from '../../runner/core/errors.js';
import { describeMismatch, mergedConfigCheck } from './config-check.js';
import { buildFailure } from './failure.js';
import { mergedText, resolveFragment, settingOrigin, type ParsedFragment, type ResolvedFragment } from './fragment.js';
import { kconfigSymbols } from './kconfig-symbols.js';
import type { BuildProgress } from './progress.js';

/** make with the tree, O= and ARCH already given; resolves to its exit code. */
export type KbuildMake = (args: string[]) => Promise<number>;

// The fragments as this tree reads them: each option looked up in the tree's own Kconfig.
export async function resolveFragmentsForTree(src: string, fragments: readonly ParsedFragment[]): Promise<ResolvedFragment[]> {
  const symbols = await kconfigSymbols(src);
  return fragments.map((f) => resolveFragment(f, symbols));
}

// base, then the resolved fragments appended in order, then olddefconfig; every option merged
// must survive, or the build stops naming each one and the fragment line that asked for it.
export async function mergeConfig(o: {
  objDir: string;
  /** 'tinyconfig' or 'defconfig', made by kbuild, or a .config file copied in. */
  base: { name: string } | { path: string };
  fragments: readonly ResolvedFragment[];
  make: KbuildMake;
  logPath: string;
  progress: (p: BuildProgress) => void;
}): Promise<string> {
  const dotConfigPath = join(o.objDir, '.config');
  if ('path' in o.base) {
    o.progress({ step: 'config', detail: `base ${o.base.path}` });
    await copyFile(o.base.path, dotConfigPath);
  } else {
    o.progress({ step: 'config', detail: `make ${o.base.name}` });
    if ((await o.make([o.base.name])) !== 0) throw await buildFailure(`make ${o.base.name} failed`, o.logPath);
  }
  const fragmentsText = mergedText(o.fragments);
  await appendFile(dotConfigPath, `\n${fragmentsText}`);
  o.progress({ step: 'config', detail: 'make olddefconfig' });
  if ((await o.make(['olddefconfig'])) !== 0) throw await buildFailure('make olddefconfig failed', o.logPath);
  const dotConfig = await readFile(dotConfigPath, 'utf8');
  const mismatches = mergedConfigCheck(fragmentsText, dotConfig);
  if (mismatches.length > 0) {
    const list = mismatches.map((m) => {
      const from = settingOrigin(o.fragments, m.option);
      return `${describeMismatch(m)}${from ? ` [${from}]` : ''}`;
    });
    throw new FaultlineError('build', `${mismatches.length} requested config option${mismatches.length === 1 ? '' : 's'} did not stick: ${list.join('; ')}`, {
      where: o.fragments.map((f) => f.path).join(', '),
      hint: `enable what they depend on in a fragment, or drop them (the merged config is ${dotConfigPath})`,
    });
  }
  return dotConfig;
}
