import { hashParts } from '../hash.js';
import { FaultlineError } from '../errors.js';
import { reasonOf, type Engine } from './engine.js';

/** An image the engine has, named by its id and by what it holds. */
export interface EngineImage {
  /** As the user named it (`faultline/debian`, `sha256:...`). */
  name: string;
  /** The engine's image id (`sha256:...`). */
  id: string;
  /** A hash of its layers' content (their diff ids) and the config a guest or build uses: the same
   * files give the same key even when an import or build on another day gives a new image id. */
  contentKey: string;
  /** Its uncompressed size in bytes. */
  size: number;
}

export async function inspectImage(engine: Engine, name: string): Promise<EngineImage> {
  let info: { Id: string; Size: number; RootFS?: { Layers?: string[] }; Config?: { Env?: string[] | null; User?: string; WorkingDir?: string } };
  try {
    info = await engine.docker.getImage(name).inspect();
  } catch (cause) {
    const status = (cause as { statusCode?: number }).statusCode;
    if (status === 404) {
      throw new FaultlineError('image', `the engine at ${engine.where} has no image ${name}`, {
        where: name,
        hint: `List its images with \`docker images\`; build a shipped recipe with \`faultline image build NAME\`, or give docker:DIR for a Dockerfile.`,
      });
    }
    throw new FaultlineError('engine', `cannot inspect the image ${name} at ${engine.where}: ${reasonOf(cause)}`, { cause });
  }
  const layers = info.RootFS?.Layers ?? [];
  const contentKey = hashParts(['engine-image-1', ...layers, JSON.stringify(info.Config?.Env ?? []), info.Config?.User ?? '', info.Config?.WorkingDir ?? '']);
  return { name, id: info.Id, contentKey, size: info.Size };
}

export interface BuildProgressLine {
  /** One line of the build's output (`Step 2/4 : RUN ...`, or what a step printed). */
  text: string;
}

// dockerode's followProgress hands a failed build over as a success whose output holds an
// `{error}` entry ("The command '/bin/sh -c ...' returned a non-zero code: 3"): every entry is
// checked, and the image id is read from the `{aux: {ID}}` entry a finished build sends.
export function followBuild(engine: Engine, stream: NodeJS.ReadableStream, what: string, onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const output: string[] = [];
    engine.docker.modem.followProgress(
      stream,
      (err: Error | null, entries: Record<string, unknown>[]) => {
        if (err) return reject(new FaultlineError('image', `${what} failed: ${reasonOf(err)}`, { cause: err }));
        const failed = entries.find((e) => e.error || e.errorDetail);
        if (failed) {
          const message = String(failed.error ?? (failed.errorDetail as { message?: string })?.message ?? 'unknown error').trim();
          const last = output.slice(-8).join('\n');
          return reject(new FaultlineError('image', `${what} failed: ${message}${last ? `\n  its last lines:\n${last.replace(/^/gm, '    ')}` : ''}`));
        }
        const id = entries.map((e) => (e.aux as { ID?: string } | undefined)?.ID).find((i) => typeof i === 'string');
        const said = entries.map((e) => /Successfully built ([0-9a-f]+)/.exec(String(e.stream ?? ''))?.[1]).find((i) => i);
        if (!id && !said) return reject(new FaultlineError('image', `${what} ended without naming an image`));
        resolve(id ?? `sha256:${said}`);
      },
      (entry: Record<string, unknown>) => {
        const text = String(entry.stream ?? entry.status ?? '').replace(/\n$/, '');
        for (const line of text.split('\n')) {
          if (!line.trim()) continue;
          output.push(line);
          onLine?.(line);
        }
      },
    );
  });
}
