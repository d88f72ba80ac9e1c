import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { FaultlineError } from '../errors.js';

/** A Docker engine that answered, and how the user named it (for messages). */
export interface Engine {
  docker: Docker;
  /** `DOCKER_HOST` as given, or the default socket. */
  where: string;
}

/** How to start an engine, for every message that finds none. */
export const startEngineHint =
  'Start one (as root: `systemctl start docker`, or `dockerd &` after `apt-get install docker.io`), or point DOCKER_HOST at one that runs (unix:///path/docker.sock, tcp://host:2375, ssh://user@host).';

const engines = new Map<string, Promise<Engine>>();

// What docker-modem reads from the process's environment when a client is made: the host, TLS
// (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), its timeout and path prefix, and the agent ssh:// uses.
const modemEnvironment = ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CLIENT_TIMEOUT', 'DOCKER_PATH_PREFIX', 'SSH_AUTH_SOCK'] as const;

// dockerode reads DOCKER_HOST (unix, tcp, ssh) and the rest of modemEnvironment itself; faultline
// only asks the engine to answer, once per DOCKER_HOST for the life of the process.
export function connectEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const host = dialledAddress(env.DOCKER_HOST ?? '', env);
  const where = host || defaultSocket();
  let engine = engines.get(where);
  if (!engine) {
    engine = ping(where, { ...env, DOCKER_HOST: host });
    engines.set(where, engine);
    engine.catch(() => engines.delete(where));
  }
  return engine;
}

// Without DOCKER_HOST, docker-modem dials the first of these that exists.
function defaultSocket(): string {
  const user = join(homedir(), '.docker', 'run', 'docker.sock');
  return `unix://${existsSync(user) ? user : '/var/run/docker.sock'}`;
}

// To the docker CLI, `host:port` is tcp, and a host without a port means 2375 (2376 with TLS);
// docker-modem would dial port 80. Named so, the address in messages is the one dialled.
function dialledAddress(host: string, env: NodeJS.ProcessEnv): string {
  if (/^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):\d+\/?$/.test(host)) return `tcp://${host.replace(/\/$/, '')}`;
  const bare = /^(?:tcp:\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/[\]]+)\/?$/.exec(host);
  if (!bare) return host;
  return `tcp://${bare[1]}:${env.DOCKER_TLS_VERIFY === '1' ? 2376 : 2375}`;
}

async function ping(where: string, env: NodeJS.ProcessEnv): Promise<Engine> {
  // Loaded only when an engine is asked for: dockerode costs every start about 120 ms, and most
  // runs (the built-in busybox image) never use one.
  const { default: Dockerode } = await import('dockerode');
  const saved = modemEnvironment.map((name) => [name, process.env[name]] as const);
  // docker-modem reads these from the process's environment when a client is made, and only then.
  for (const name of modemEnvironment) {
    if (env[name]) process.env[name] = env[name];
    else delete process.env[name];
  }
  let docker: Docker;
  try {
    docker = new Dockerode({ timeout: 0 });
  } catch (cause) {
    throw new FaultlineError('engine', `DOCKER_HOST=${where} names no engine faultline can reach (${reasonOf(cause)})`, { where, hint: startEngineHint, cause });
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
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
