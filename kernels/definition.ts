import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { IssueCollector } from '../runner/suite/issues.js';
import { FaultlineError } from '../runner/errors.js';
import { isNamedBase } from './source/build.js';
import { isCommitRange } from './source/patches.js';
import type { SourceSpec } from './spec.js';

const definitionSchema = z.strictObject({
  description: z.string().optional(),
  tree: z.string().min(1),
  patches: z.array(z.string().min(1)).default([]),
  base: z.string().default('tinyconfig'),
  config: z.array(z.string().min(1)).default([]),
});

// A kernel kept as a file (kernels/NAME.yaml): tree, patches, config base and fragments, so a
// series under review is one `--kernel kernels/NAME.yaml` away. Relative paths are relative to
// the definition's own directory; `~` is the user's home.
export function loadKernelDefinition(file: string): SourceSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new FaultlineError('kernel', `cannot read kernel definition ${file}`, { hint: 'Give an existing kernels/NAME.yaml.', cause });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues = new IssueCollector(file, doc, lines);
  for (const error of doc.errors) issues.add([], `YAML: ${error.message.split('\n')[0]}`);
  const parsed = doc.errors.length ? undefined : issues.check(definitionSchema, doc.toJS(), [], Object.keys(definitionSchema.shape));
  issues.throwIfAny();
  const def = parsed!;
  const at = (p: string) => (p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : isCommitRange(p) ? p : resolve(dirname(file), p));
  const base = isNamedBase(def.base) ? def.base : at(def.base);
  return { kind: 'source', tree: at(def.tree), patches: def.patches.map(at), base, fragments: def.config.map(at), definition: file };
}

