import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

// Every cached artifact is keyed by a hash of exactly the inputs that shape it.
export function hashParts(parts: ReadonlyArray<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    h.update(String(bytes.length)).update(':').update(bytes);
  }
  return h.digest('hex').slice(0, 24);
}

export async function hashFiles(paths: readonly string[]): Promise<string> {
  const contents = await Promise.all(paths.map((p) => readFile(p)));
  return hashParts(paths.flatMap((p, i) => [p.split('/').pop() ?? p, contents[i]!]));
}
