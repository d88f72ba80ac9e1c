import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hashParts } from '../../runner/core/hash.js';
import type { Patch } from './patches.js';

const definition = /^[ \t]*(?:menu)?config[ \t]+([A-Za-z0-9_]+)[ \t]*(?:#.*)?$/gm;

// Every symbol an x86 build of the tree can define: the `config`/`menuconfig` lines of its
// Kconfig files, other architectures' left out. Reading every file instead of following
// `source` lines errs on the side of "exists": an option that exists but cannot be set still
// fails the after-merge check, while one wrongly called missing would be skipped.
export async function kconfigSymbols(root: string): Promise<Set<string>> {
  const files = await kconfigFiles(root);
  const symbols = new Set<string>();
  await Promise.all(
    files.map(async (file) => {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(definition)) symbols.add(`CONFIG_${m[1]!}`);
    }),
  );
  return symbols;
}

async function kconfigFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (e) => {
        const path = join(dir, e.name);
        const relPath = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (skippedDirectory(relPath)) return;
          await walk(path, relPath);
        } else if (e.isFile() && e.name.startsWith('Kconfig')) found.push(path);
      }),
    );
  };
  await walk(root, '');
  return found;
}

function skippedDirectory(rel: string): boolean {
  if (rel.startsWith('.') || rel === 'Documentation' || rel === 'tools' || rel === 'debian') return true;
  return rel.startsWith('arch/') && rel.split('/').length === 2 && rel !== 'arch/x86';
}

// The scan, kept per tree content: the build key is made from what the fragments resolve to, so
// every run needs the symbols, and a cached kernel should not pay a tree walk for them.
export async function treeKconfigSymbols(root: string, treeId: string, cacheDir: string): Promise<Set<string>> {
  const file = join(cacheDir, 'kernels', 'source', 'kconfig', `${hashParts(['faultline-kconfig-1', treeId])}.json`);
  const saved = await readFile(file, 'utf8').then(parseList, () => null);
  if (saved) return new Set(saved);
  const symbols = await kconfigSymbols(root);
  // Runs side by side may scan the same tree: each writes its own file and renames it into place.
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify([...symbols].sort()));
  await rename(tmp, file);
  return symbols;
}

function parseList(text: string): string[] | null {
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list) && list.every((s) => typeof s === 'string') ? list : null;
  } catch {
    return null; // cut short by a killed run: scanned again
  }
}

const patchedFile = /^\+\+\+ (\S+)/;
const hunkDefinition = /^([+-])[ \t]*(?:menu)?config[ \t]+([A-Za-z0-9_]+)[ \t]*(?:#.*)?$/;

// A series may add the option a fragment asks for (or take one away): the `config` lines its
// hunks add to or remove from Kconfig files, applied to the tree's own symbols.
export function symbolsAfterSeries(symbols: ReadonlySet<string>, patches: readonly Patch[]): Set<string> {
  const result = new Set(symbols);
  for (const patch of patches) {
    // a patch that moves an option removes and adds it, in whichever file order
    const added = new Set<string>();
    const removed = new Set<string>();
    let inKconfig = false;
    for (const line of patch.text.split('\n')) {
      const file = patchedFile.exec(line);
      if (file) {
        inKconfig = basename(file[1]!).startsWith('Kconfig');
        continue;
      }
      const m = inKconfig ? hunkDefinition.exec(line) : null;
      if (m) (m[1] === '+' ? added : removed).add(`CONFIG_${m[2]!}`);
    }
    for (const symbol of removed) result.delete(symbol);
    for (const symbol of added) result.add(symbol);
  }
  return result;
}
