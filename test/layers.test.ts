import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';

// Folders import downward only: the shared core imports no stage; kernels/ and images/ import
// only the core; the engine never imports the command line. Read from the sources themselves.
const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, as a path from the project root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => relative(root, resolve(root, dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
}

const under = (path: string, ...dirs: string[]) => dirs.some((d) => path === d || path.startsWith(`${d}/`));

const rules: { files: (f: string) => boolean; may: (target: string) => boolean; says: string }[] = [
  { files: (f) => under(f, 'runner/core'), may: (to) => under(to, 'runner/core'), says: 'the core imports no stage' },
  { files: (f) => under(f, 'kernels'), may: (to) => under(to, 'kernels', 'runner/core'), says: 'kernels/ imports only itself and the core' },
  { files: (f) => under(f, 'images'), may: (to) => under(to, 'images', 'runner/core'), says: 'images/ imports only itself and the core' },
  {
    files: (f) => under(f, 'runner') && !under(f, 'runner/commands') && f !== 'runner/cli.ts',
    may: (to) => !under(to, 'runner/commands') && to !== 'runner/cli.ts',
    says: 'the engine never imports the command line',
  },
];

const files = [...sources('runner'), ...sources('kernels'), ...sources('images')];
t.ok(files.length > 50, `${files.length} source files read`);
for (const rule of rules) {
  const broken = files.filter(rule.files).flatMap((f) => importsOf(f).filter((to) => !rule.may(to)).map((to) => `${f} imports ${to}`));
  t.same(broken, [], rule.says);
}
