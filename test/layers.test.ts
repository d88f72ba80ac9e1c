import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';

// The layers, bottom first, read from the sources themselves. A file imports its own folder (or,
// for a file at runner/'s top, itself) and the layers below its own, never one beside or above;
// and no files, inside a folder or across folders, import each other in a circle.
export const layers: readonly (readonly string[])[] = [
  ['runner/core'],
  ['runner/protocol'],
  ['kernels', 'images'],
  ['runner/model'],
  ['runner/events.ts'],
  ['runner/console', 'runner/qemu', 'runner/tap', 'runner/expect', 'runner/helper', 'runner/timers.ts', 'runner/parallel.ts'],
  ['runner/suite'],
  ['runner/sources', 'runner/stopping.ts', 'runner/host.ts'],
  ['runner/suites.ts'],
  ['runner/reporters'],
  ['runner/results'],
  ['runner/guest'],
  ['runner/run-services.ts'],
  ['runner/kernel-run.ts'],
  ['runner/run.ts'],
  ['runner/reparse.ts', 'runner/doctor.ts'],
  ['runner/bisect'],
  ['runner/commands'],
  ['runner/cli.ts'],
];

const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file (type-only ones too), as a path from the project root. */
export function importsOf(file: string, text = readFileSync(join(root, file), 'utf8')): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => relative(root, resolve(root, dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
}

const unitOf = (file: string): string | null => layers.flat().filter((u) => file === u || file.startsWith(`${u}/`)).sort((a, b) => b.length - a.length)[0] ?? null;
const layerOf = (unit: string): number => layers.findIndex((l) => l.includes(unit));

/** "a imports b" for each import that points beside or above its own layer. */
export function layerBreaks(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const broken: string[] = [];
  for (const [file, targets] of graph) {
    const from = unitOf(file)!;
    for (const to of targets) {
      const unit = unitOf(to);
      if (unit === from) continue;
      if (unit === null || layerOf(unit) >= layerOf(from)) broken.push(`${file} imports ${to}`);
    }
  }
  return broken;
}

/** Every set of files that import each other in a circle (Tarjan's strongly connected components). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

const files = [...sources('runner'), ...sources('kernels'), ...sources('images')];
const graph = new Map(files.map((f) => [f, importsOf(f)] as const));

t.test('every source file is in a layer', async (t) => {
  t.ok(files.length > 50, `${files.length} source files read`);
  t.same(files.filter((f) => unitOf(f) === null), []);
  t.same(layers.flat().filter((u) => !files.some((f) => unitOf(f) === u)), [], 'and every layer entry holds a file');
});

t.test('imports point down only', async (t) => {
  t.same(layerBreaks(graph), []);
});

t.test('no import cycles, of files or of folders', async (t) => {
  t.same(cycles(graph), [], 'files');
  const folders = new Map<string, string[]>();
  for (const [file, targets] of graph) folders.set(unitOf(file)!, [...new Set([...(folders.get(unitOf(file)!) ?? []), ...targets.map((to) => unitOf(to)!).filter((u) => u !== unitOf(file))])]);
  t.same(cycles(folders), [], 'folders');
});

t.test('the check sees an upward import, a sideways one and a cycle', async (t) => {
  const planted = new Map(graph);
  planted.set('runner/model/store.ts', [...graph.get('runner/model/store.ts')!, 'runner/reporters/terminal.ts']);
  planted.set('runner/qemu/boot.ts', [...graph.get('runner/qemu/boot.ts')!, 'runner/console/watcher.ts']);
  t.same(layerBreaks(planted), ['runner/model/store.ts imports runner/reporters/terminal.ts', 'runner/qemu/boot.ts imports runner/console/watcher.ts']);
  const circle = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
  t.same(cycles(circle), [['a.ts', 'b.ts', 'c.ts']]);
  t.same(importsOf('runner/x/y.ts', "import type { A } from '../model/types.js';\nconst m = await import('./z.js');"), ['runner/model/types.ts', 'runner/x/z.ts']);
});
