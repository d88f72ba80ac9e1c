import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readYamlFile } from '../runner/core/yaml/yaml-file.js';
import { isNamedBase } from './source/build.js';
import { isCommitRange } from './source/patches.js';
import type { SourceSpec } from './spec-kinds.js';

const definitionSchema = z.strictObject({
  description: z.string().optional(),
  tree: z.string().min(1),
  patches: z.array(z.string().min(1)).default([]),
  base: z.string().default('tinyconfig'),
  config: z.array(z.string().min(1)).default([]),
  image: z.string().min(1).optional(),
  'build-image': z.string().min(1).optional(),
});

// A kernel kept as a file (kernels/NAME.yaml): tree, patches, config base and fragments, so a
// series under review is one `--kernel kernels/NAME.yaml` away. Relative paths are relative to
// the definition's own directory; `~` is the user's home.
export function loadKernelDefinition(file: string): SourceSpec {
  const { issues, value } = readYamlFile(file, {
    noun: 'kernel definition',
    unreadable: 'kernel',
    unreadableHint: 'Give an existing kernels/NAME.yaml.',
    fixHint: 'Fix the kernel definition; the README ("Patched kernels from source") describes its keys: tree, patches, base, config, image, build-image, description.',
  });
  const parsed = issues.check(definitionSchema, value, [], Object.keys(definitionSchema.shape));
  issues.throwIfAny();
  const def = parsed!;
  const at = (p: string) => (p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : isCommitRange(p) ? p : resolve(dirname(file), p));
  const base = isNamedBase(def.base) ? def.base : at(def.base);
  // A Dockerfile directory (docker:./DIR) is beside the definition, like its other paths.
  const imageAt = (name: string) => (/^docker:(\.{1,2}(\/|$)|~\/)/.test(name) ? `docker:${at(name.slice('docker:'.length))}` : name);
  return {
    kind: 'source',
    tree: at(def.tree),
    patches: def.patches.map(at),
    base,
    fragments: def.config.map(at),
    definition: file,
    ...(def.image ? { image: imageAt(def.image) } : {}),
    ...(def['build-image'] ? { buildImage: imageAt(def['build-image']) } : {}),
  };
}

