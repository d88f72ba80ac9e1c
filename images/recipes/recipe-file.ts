import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { FaultlineError } from '../../runner/core/errors.js';
import { projectRoot } from '../../runner/core/paths.js';

/** A Debian userland made by debootstrap: images/recipes/NAME/recipe.yaml. */
export interface DebootstrapRecipe {
  name: string;
  file: string;
  suite: string;
  variant: string;
  /** debootstrap's --include, sorted (the order does not change what is installed). */
  packages: string[];
}

const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name');
const recipeSchema = z.strictObject({
  suite: z.string().regex(/^[a-z0-9-]+$/, 'a Debian suite such as bookworm'),
  variant: z.enum(['minbase', 'buildd', 'fakechroot']).default('minbase'),
  packages: z.array(packageName).default([]),
});

export const recipeFile = (name: string): string => join(projectRoot, 'images', 'recipes', name, 'recipe.yaml');

export function readDebootstrapRecipe(name: string): DebootstrapRecipe {
  const file = recipeFile(name);
  let parsed: z.output<typeof recipeSchema>;
  try {
    parsed = recipeSchema.parse(parse(readFileSync(file, 'utf8')));
  } catch (cause) {
    const why = cause instanceof z.ZodError ? cause.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ') : String((cause as Error).message);
    throw new FaultlineError('image', `the recipe ${name} does not load: ${why}`, { where: file, hint: 'A recipe has the keys suite, variant (minbase) and packages (a list of Debian package names).', cause });
  }
  return { name, file, suite: parsed.suite, variant: parsed.variant, packages: [...new Set(parsed.packages)].sort() };
}
