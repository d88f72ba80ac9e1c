import { lstatSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { statIndexAt, statIndexClean, writeStatIndex } from './stat-index.js';
import { statStamp, type WalkEntry } from './tree-walk.js';

// What proves a plain tree unchanged without reading it: the stat walk taken before its files
// were hashed, kept beside the identity it produced. The next run stats every directory and
// file again; all the same means the same tree, since
// - a file's content cannot change without its mtime and ctime changing (ctime cannot be set back),
//   and a file replaced by another (rename, cp over it, an editor's save) has another inode;
// - a file or directory added, removed or renamed changes its directory's mtime and ctime.
// Entries younger than a few seconds at the walk keep the manifest from being written at all:
// an edit within the same timestamp tick would otherwise leave the stat data as it was.
// Directories are compared here; files by `git diff-files` against an index of the walk
// (stat-index.ts), or here too when there is no git. Any difference, or no manifest, sends the
// caller to the full walk and its per-file hashes.

const header = 'faultline-tree-manifest-2';

/** The manifest beside `base`, and the directory of its indexes. */
const manifestOf = (base: string) => `${base}.manifest`;
const indexDirOf = (base: string) => `${base}.stat-index`;

export async function writeTreeManifest(base: string, id: string, entries: readonly WalkEntry[], objects: ReadonlyMap<string, Buffer>): Promise<void> {
  // one record a line; a name with a newline in it (never in a kernel tree) gets no manifest
  if (entries.some((e) => e.rel.includes('\n'))) return dropTreeManifest(base);
  const indexed = entries.flatMap((entry) => {
    const object = objects.get(entry.rel);
    return entry.type !== 'd' && object ? [{ entry, object }] : [];
  });
  if (indexed.length !== entries.filter((e) => e.type !== 'd').length) return dropTreeManifest(base);
  // Runs of the same tree may finish side by side: each writes an index of its own and then
  // its manifest naming that index, so a manifest and the index it names come from one walk.
  const indexName = `index-${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeStatIndex(statIndexAt(indexDirOf(base), indexName), indexed);
  // directories first: with git at hand they are all a check reads
  const line = (e: WalkEntry) => `${e.type} ${e.stat}\0${e.rel}`;
  const text = [header, id, indexName, ...entries.filter((e) => e.type === 'd').map(line), 'files', ...entries.filter((e) => e.type !== 'd').map(line)].join('\n');
  const manifest = manifestOf(base);
  await mkdir(dirname(manifest), { recursive: true });
  const tmp = `${manifest}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, manifest);
  await dropIndexesBut(base, indexName);
}

export async function dropTreeManifest(base: string): Promise<void> {
  await rm(manifestOf(base), { force: true });
  await dropIndexesBut(base, null);
}

// A reader still using an index dropped here gets a failing git, which proves nothing: it hashes.
async function dropIndexesBut(base: string, keep: string | null): Promise<void> {
  const names = await readdir(indexDirOf(base)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith('index-') && n !== keep).map((n) => rm(join(indexDirOf(base), n), { force: true })));
}

// The synchronous lstat is the cheapest per entry in Node (the promise API costs several times more).
function sameStats(root: string, records: readonly string[]): boolean {
  for (const record of records) {
    const nul = record.indexOf('\0');
    if (nul < 0) return false;
    const rel = record.slice(nul + 1);
    const s = lstatSync(rel === '' ? root : join(root, rel), { bigint: true, throwIfNoEntry: false });
    if (s === undefined || record.slice(2, nul) !== statStamp(s)) return false;
  }
  return true;
}

/** The identity the manifest holds when every entry it lists is as it was, else null. */
export async function unchangedTreeId(base: string, root: string): Promise<string | null> {
  const text = await readFile(manifestOf(base), 'utf8').catch(() => null);
  if (text === null) return null;
  const filesAt = text.indexOf('\nfiles\n');
  if (filesAt < 0) return null;
  const [head, id, indexName, ...dirs] = text.slice(0, filesAt).split('\n');
  if (head !== header || !id || !indexName || dirs.length === 0) return null;
  const gitSays = statIndexClean(statIndexAt(indexDirOf(base), indexName), root);
  if (!sameStats(root, dirs)) return null;
  const filesClean = await gitSays;
  if (filesClean === false) return null;
  if (filesClean === null && !sameStats(root, text.slice(filesAt + '\nfiles\n'.length).split('\n'))) return null;
  return id;
}
