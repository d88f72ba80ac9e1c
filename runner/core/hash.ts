import { createHash } from 'node:crypto';

// Every cached artifact is keyed by a hash of exactly the inputs that shape it.
export function hashParts(parts: ReadonlyArray<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    h.update(String(bytes.length)).update(':').update(bytes);
  }
  return h.digest('hex').slice(0, 24);
}

