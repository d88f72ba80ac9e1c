import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';

/** One entry of a tree as a stat walk sees it. */
export interface WalkEntry {
  /** d directory, f file, l symlink (anything else is not part of a kernel tree and is skipped). */
  type: 'd' | 'f' | 'l';
  /** Relative to the tree's top, "" for the top itself. */
  rel: string;
  /** size, mtime, ctime, inode and mode: what changes when anything about the entry changes. */
  stat: string;
  /** The whole lstat, in nanoseconds, as a git index records it. */
  stats: BigIntStats;
  /** A symlink's target. */
  link: string;
}

// ctime is in the stamp because nothing sets it back: a content edit whose mtime was restored
// (touch -r, cp -p over the file) still shows.
export const statStamp = (s: BigIntStats): string => `${s.size} ${s.mtimeNs} ${s.ctimeNs} ${s.ino} ${s.mode}`;

/** The newest of an entry's mtime and ctime, in seconds. */
export const stampTime = (s: BigIntStats): number => Number(s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs) / 1e9;

// One synchronous pass (readdir, one lstat per entry) is the cheapest listing Node can make of
// 80k files: the promise API costs several times more per call.
export function statWalk(root: string): WalkEntry[] {
  const entries: WalkEntry[] = [];
  const visit = (rel: string, self: BigIntStats) => {
    const dir = rel === '' ? root : `${root}/${rel}`;
    entries.push({ type: 'd', rel, stat: statStamp(self), stats: self, link: '' });
    for (const name of readdirSync(dir)) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const s = lstatSync(`${root}/${child}`, { bigint: true });
      if (s.isDirectory()) visit(child, s);
      else if (s.isFile()) entries.push({ type: 'f', rel: child, stat: statStamp(s), stats: s, link: '' });
      else if (s.isSymbolicLink()) entries.push({ type: 'l', rel: child, stat: statStamp(s), stats: s, link: readlinkSync(`${root}/${child}`) });
    }
  };
  visit('', lstatSync(root, { bigint: true }));
  return entries;
}
