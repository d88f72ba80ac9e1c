import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashParts } from './hash.js';
import { cacheDir as defaultCacheDir } from './paths.js';

/** What names one build of a program: where it really is and the file's own stat data. */
export interface BinaryIdentity {
  path: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

// A program replaced by an upgrade, a copy or a rebuild gets a new inode, size or mtime (and
// always a new ctime, which no one can set back), so its answers are asked again.
export async function binaryIdentity(program: string): Promise<BinaryIdentity | null> {
  try {
    const path = await realpath(program);
    const s = await stat(path);
    return { path, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, dev: s.dev };
  } catch {
    return null;
  }
}

const identityText = (id: BinaryIdentity): string => `${id.path}\0${id.size} ${id.mtimeMs} ${id.ctimeMs} ${id.ino} ${id.dev}`;

interface Remembered {
  identity: string;
  question: string;
  answer: string;
}

// `gcc --version`, `qemu --version` and their like cost a process each on every start; their
// answer depends only on the binary, so it is kept in the cache under the binary's identity.
// An answer of null (the program could not say) is never kept: it is asked again next time, as
// it is when `stillTrue` finds that what the answer names has changed outside the binary.
export async function rememberedAnswer<Answer extends string | null>(
  program: string,
  question: string,
  ask: () => Promise<Answer>,
  opts: { cacheDir?: string; stillTrue?: (answer: string) => Promise<boolean> } = {},
): Promise<Answer> {
  const identity = await binaryIdentity(program);
  if (!identity) return ask();
  const text = identityText(identity);
  const file = join(opts.cacheDir ?? defaultCacheDir(), 'tools', `${hashParts([text, question])}.json`);
  const known = await readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as Remembered,
    () => null,
  );
  if (known && known.identity === text && known.question === question && typeof known.answer === 'string' && (!opts.stillTrue || (await opts.stillTrue(known.answer)))) {
    return known.answer as Answer;
  }
  const answer = await ask();
  if (answer !== null) await remember(file, { identity: text, question, answer }).catch(() => undefined); // a read-only cache only costs the next start a process
  return answer;
}

async function remember(file: string, value: Remembered): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}
