import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Engine } from './engine.js';

// Every container and temporary image faultline makes carries these labels: which machine and
// which process (pid and its start time, so a reused pid is not taken for the owner) made it.
// A run that dies without cleaning up (SIGKILL) leaves them behind; the next start removes them.
export const OWNER_LABEL = 'org.faultline.owner';
export const HOST_LABEL = 'org.faultline.host';

/** A process as `pid:starttime` (clock ticks since boot, /proc/PID/stat field 22), or null if gone. */
export function processIdentity(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it start past its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid}:${fields[19]}`;
  } catch {
    return null;
  }
}

export function ownerLabels(): Record<string, string> {
  return { [OWNER_LABEL]: processIdentity(process.pid) ?? `${process.pid}:0`, [HOST_LABEL]: hostname() };
}

/** Whether the process named by an owner label has gone (a label from another machine never has, as far as this one can tell). */
export function ownerGone(labels: Record<string, string> | undefined): boolean {
  const owner = labels?.[OWNER_LABEL];
  if (!owner || labels?.[HOST_LABEL] !== hostname()) return false;
  const pid = Number(owner.split(':')[0]);
  return !Number.isInteger(pid) || processIdentity(pid) !== owner;
}

export interface Swept {
  containers: string[];
  images: string[];
}

const swept = new WeakSet<Engine>();

// Removes the containers and temporary images of faultline runs on this machine that are no
// longer alive; once per engine per process.
export async function sweepStale(engine: Engine): Promise<Swept> {
  if (swept.has(engine)) return { containers: [], images: [] };
  swept.add(engine);
  const filters = JSON.stringify({ label: [OWNER_LABEL] });
  const containers = (await engine.docker.listContainers({ all: true, filters })).filter((c) => ownerGone(c.Labels));
  for (const c of containers) await engine.docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  const images = (await engine.docker.listImages({ filters })).filter((i) => ownerGone(i.Labels));
  for (const i of images) await engine.docker.getImage(i.Id).remove({ force: true, noprune: false }).catch(() => undefined);
  return { containers: containers.map((c) => c.Id), images: images.map((i) => i.Id) };
}
