import { createReadStream } from 'node:fs';
import { FaultlineError } from '../../runner/core/errors.js';
import { reasonOf, type Engine } from '../../runner/core/engine/engine.js';
import { readEngineStream } from '../../runner/core/engine/images.js';

export interface ImportRequest {
  /** `faultline/debian`: the repository; the tag is `latest`. */
  repository: string;
  labels: Record<string, string>;
  /** Dockerfile instructions applied to the image's config (`CMD [...]`). */
  config?: string[];
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

// A root file system tarball as a one-layer image (`docker import`). The engine answers with a
// stream of JSON entries; like a build's, a failure may come as an `{error}` entry in a stream
// that ends well, so every entry is checked. A status that is an image id names the new image.
export async function importRootfsTarball(engine: Engine, tarPath: string, req: ImportRequest): Promise<string> {
  req.signal?.throwIfAborted();
  const changes = [...Object.entries(req.labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`), ...(req.config ?? [])];
  const what = `importing ${tarPath} into the engine at ${engine.where} as ${req.repository}`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await engine.docker.importImage(createReadStream(tarPath), { repo: req.repository, tag: 'latest', changes, ...(req.signal ? { abortSignal: req.signal } : {}) });
  } catch (cause) {
    req.signal?.throwIfAborted();
    throw new FaultlineError('image', `${what} failed: ${reasonOf(cause)}`, { cause });
  }
  let failure: string | undefined;
  let id: string | undefined;
  try {
    await readEngineStream(engine, stream, what, (entry) => {
      if (entry.error || entry.errorDetail) {
        failure ??= String(entry.error ?? (entry.errorDetail as { message?: string })?.message ?? 'unknown error').trim();
        return;
      }
      const status = String(entry.status ?? '').trim();
      if (/^sha256:[0-9a-f]{64}$/.test(status)) id = status;
      else if (status) req.onProgress?.(`import: ${status}${entry.progress ? ` ${String(entry.progress)}` : ''}`);
    });
  } catch (error) {
    req.signal?.throwIfAborted();
    throw error;
  }
  req.signal?.throwIfAborted();
  if (failure) throw new FaultlineError('image', `${what} failed: ${failure}`);
  if (!id) throw new FaultlineError('image', `${what} ended without naming an image`);
  return id;
}
