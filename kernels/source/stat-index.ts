import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from '../../runner/core/env.js';
import type { WalkEntry } from './tree-walk.js';

// git compares a working tree with its index by stat data alone, in parallel threads and with a
// fraction of the system calls a directory walk makes (no open, getdents or close per
// directory), which makes `git diff-files` the cheapest proof that no file of a plain tree
// changed. The index it reads is written here from the walk that was hashed: git never hashes
// these files and never holds their objects; an entry whose stat data differs is reported
// changed (its placeholder object id matches nothing), so a stale index can only cost a rehash.

/** A private git directory (empty, bare) and the index beside it, both under the cache. */
export interface StatIndex {
  gitDir: string;
  index: string;
}

/** The index `name` in the directory `dir`, beside the git directory all of that tree's indexes share. */
export const statIndexAt = (dir: string, name: string): StatIndex => ({ gitDir: join(dir, 'git'), index: join(dir, name) });

// git takes an index entry of size 0 for one it must read again unless its object is the empty blob.
const emptyBlob = Buffer.from('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391', 'hex');
const modeOf = (e: WalkEntry): number => (e.type === 'l' ? 0o120000 : Number(e.stats.mode) & 0o111 ? 0o100755 : 0o100644);
const low32 = (n: bigint): number => Number(BigInt.asUintN(32, n));

// The index format, version 2 (Documentation/gitformat-index.txt): a header, the entries sorted
// by path bytes, each padded with NULs to a multiple of eight, and a SHA-1 of all of it.
function indexBytes(entries: ReadonlyArray<{ entry: WalkEntry; object: Buffer }>): Buffer {
  const named = entries.map((e) => ({ ...e, name: Buffer.from(e.entry.rel) })).sort((a, b) => Buffer.compare(a.name, b.name));
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.write('DIRC', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(named.length, 8);
  parts.push(head);
  for (const { entry, object, name } of named) {
    const s = entry.stats;
    const length = 62 + name.length;
    const padded = Math.ceil((length + 1) / 8) * 8;
    const b = Buffer.alloc(padded);
    const ns = (t: bigint) => [low32(t / 1_000_000_000n), Number(t % 1_000_000_000n)] as const;
    const [cs, cn] = ns(s.ctimeNs);
    const [ms, mn] = ns(s.mtimeNs);
    [cs, cn, ms, mn, low32(s.dev), low32(s.ino), modeOf(entry), low32(s.uid), low32(s.gid), low32(s.size)].forEach((v, i) => b.writeUInt32BE(v, i * 4));
    (s.size === 0n ? emptyBlob : object).copy(b, 40, 0, 20);
    b.writeUInt16BE(Math.min(name.length, 0xfff), 60);
    name.copy(b, 62);
    parts.push(b);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/** Writes the index of these files and symlinks (their content hashes stand in for object ids). */
export async function writeStatIndex(at: StatIndex, entries: ReadonlyArray<{ entry: WalkEntry; object: Buffer }>): Promise<void> {
  await mkdir(at.gitDir, { recursive: true });
  await writeFile(join(at.gitDir, 'HEAD'), 'ref: refs/heads/none\n');
  await mkdir(join(at.gitDir, 'objects'), { recursive: true });
  await mkdir(join(at.gitDir, 'refs'), { recursive: true });
  const tmp = `${at.index}.${process.pid}.tmp`;
  await writeFile(tmp, indexBytes(entries));
  await rename(tmp, at.index);
}

/** True when git finds every indexed file of `root` as the index has it; false on any change or
 * when git cannot read the index; null when there is no git to ask. */
export async function statIndexClean(at: StatIndex, root: string): Promise<boolean | null> {
  // none of the user's settings that trust stat data less, or not at all, apply here
  const config = ['-c', 'core.preloadIndex=true', '-c', 'core.fsmonitor=false', '-c', 'core.ignoreStat=false', '-c', 'core.trustctime=true', '-c', 'core.checkStat=default', '-c', 'core.filemode=true', '-c', 'core.symlinks=true'];
  const r = await execa('git', [...config, 'diff-files', '--quiet'], {
    cwd: root,
    reject: false,
    stdin: 'ignore',
    env: cLocaleEnv({ GIT_DIR: at.gitDir, GIT_INDEX_FILE: at.index, GIT_WORK_TREE: root, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }),
  });
  if (r.exitCode === undefined) return null;
  return r.exitCode === 0;
}
