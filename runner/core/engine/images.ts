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

// A build's output is one JSON object a line. dockerode's followProgress hands a failed build over
// as a success whose output holds an `{error}` entry ("The command '/bin/sh -c ...' returned a
// non-zero code: 3"), and a connection that closes midway as a success too: faultline reads the
// lines itself, checks every entry, and takes the image id from the `{aux: {ID}}` a finished build sends.
export async function followBuild(engine: Engine, stream: NodeJS.ReadableStream, what: string, onLine?: (line: string) => void): Promise<string> {
  const output: string[] = [];
  let id: string | undefined;
  let failure: string | undefined;
  // The classic builder names each step before running it (`Step 2/3 : RUN make`).
  let step: string | undefined;
  const take = (entry: Record<string, unknown>) => {
    if (entry.error || entry.errorDetail) {
      failure ??= String(entry.error ?? (entry.errorDetail as { message?: string })?.message ?? 'unknown error').trim();
      return;
    }
    const aux = (entry.aux as { ID?: unknown } | undefined)?.ID;
    if (typeof aux === 'string') id = aux;
    const text = String(entry.stream ?? entry.status ?? '');
    const built = /Successfully built ([0-9a-f]{12,64})/.exec(text)?.[1];
    if (built && !id) id = `sha256:${built}`;
    for (const line of text.replace(/\n$/, '').split('\n')) {
      if (!line.trim()) continue;
      if (/^Step \d+\/\d+ : /.test(line)) step = line;
      output.push(line);
      if (output.length > 8) output.shift();
      onLine?.(line);
    }
  };
  await readEngineStream(engine, stream, what, take);
  if (failure) {
    const last = output.join('\n');
    throw new FaultlineError('image', `${what} failed${step ? ` at ${step}` : ''}: ${failure}${last ? `\n  its last lines:\n${last.replace(/^/gm, '    ')}` : ''}`);
  }
  if (!id) throw new FaultlineError('image', `${what} ended without naming an image`, { hint: `Check the engine's log (its last line: ${output.at(-1) ?? 'none'}).` });
  return id;
}

// The engine's progress streams (build, import) are one JSON object a line; a line that is not
// JSON is taken as plain output. A connection that closes midway is said as such, where
// dockerode's followProgress would call it a success.
export async function readEngineStream(engine: Engine, stream: NodeJS.ReadableStream, what: string, take: (entry: Record<string, unknown>) => void): Promise<void> {
  const parse = (raw: string) => {
    if (!raw.trim()) return;
    try {
      take(JSON.parse(raw) as Record<string, unknown>);
    } catch {
      take({ stream: raw });
    }
  };
  let pending = '';
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(parse);
    }
    parse(pending);
  } catch (cause) {
    throw new FaultlineError('engine', `${what} stopped: the connection to the engine at ${engine.where} broke (${reasonOf(cause)})`, { cause, hint: 'Check that the engine still runs (`docker info`), then run again.' });
  }
}
