import Docker from 'dockerode';
import { FaultlineError } from '../errors.js';

/** A Docker engine that answered, and how the user named it (for messages). */
export interface Engine {
  docker: Docker;
  /** `DOCKER_HOST` as given, or the default socket. */
  where: string;
}

const defaultSocket = 'unix:///var/run/docker.sock';

/** How to start an engine, for every message that finds none. */
export const startEngineHint =
  'Start one (as root: `systemctl start docker`, or `dockerd &` after `apt-get install docker.io`), or point DOCKER_HOST at one that runs (unix:///path/docker.sock, tcp://host:2375, ssh://user@host).';

const engines = new Map<string, Promise<Engine>>();

// dockerode reads DOCKER_HOST (unix, tcp, ssh), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself;
// faultline only asks the engine to answer, once per DOCKER_HOST for the life of the process.
export function connectEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const where = env.DOCKER_HOST || defaultSocket;
  let engine = engines.get(where);
  if (!engine) {
    engine = ping(where, env);
    engines.set(where, engine);
    engine.catch(() => engines.delete(where));
  }
  return engine;
}

async function ping(where: string, env: NodeJS.ProcessEnv): Promise<Engine> {
  const saved = process.env.DOCKER_HOST;
  // docker-modem reads the process's environment when it is made.
  if (env.DOCKER_HOST) process.env.DOCKER_HOST = env.DOCKER_HOST;
  else delete process.env.DOCKER_HOST;
  let docker: Docker;
  try {
    docker = new Docker({ timeout: 0 });
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10_000).unref()),
    ]);
  } catch (cause) {
    throw new FaultlineError('engine', `no Docker engine answers at ${where} (${reasonOf(cause)})`, { where, hint: startEngineHint, cause });
  }
  return { docker, where };
}

/** The engine's own words for a failure, without dockerode's "(HTTP code N) ..." wrapping. */
export function reasonOf(cause: unknown): string {
  const e = cause as { json?: { message?: string }; reason?: string; message?: string; code?: string };
  return (e?.json?.message ?? e?.message ?? e?.code ?? String(cause)).replace(/^\(HTTP code \d+\)\s*[\w ]*-\s*/, '').trim();
}
