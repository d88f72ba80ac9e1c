import { appendFileSync, writeFileSync } from 'node:fs';

// The result channel's bytes exactly as they came, for reading a run offline. Written
// synchronously chunk by chunk (chunks are a line or two) so a run killed outright keeps them.
export function rawLog(path: string): (chunk: string) => void {
  writeFileSync(path, '');
  return (chunk) => appendFileSync(path, chunk);
}
