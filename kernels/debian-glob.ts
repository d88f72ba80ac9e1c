import { FaultlineError } from '../runner/core/errors.js';
import { aptRecords, type AptRecord } from './debian-apt.js';
import { byVersion, matchingPackages } from './debian.js';

/** Why a matching package is not run as a kernel of its own. */
export type DroppedKind = 'debug' | 'unsigned' | 'meta' | 'template' | 'unavailable';

/** A `debian:` glob turned into the kernel packages a run downloads and boots. */
export interface DebianGlob {
  glob: string;
  /** Every package name in the apt lists that matches. */
  matched: string[];
  /** The installable kernel images, oldest first. */
  packages: string[];
  /** Matching names that are not run, by why. */
  dropped: Record<DroppedKind, string[]>;
  /** apt's download size of each package run, in bytes (0 when apt does not say). */
  sizes: Map<string, number>;
}

// A name matching a glob is not always a kernel: `-dbg` packages hold debug symbols (hundreds of
// MB, no vmlinuz), `-signed-template` packages hold signing sources, `-unsigned` packages are the
// same build as their signed twin, and a meta package only points at another package. Each is
// dropped or folded into the kernel it stands for, so a kernel runs once.
export async function expandDebianGlob(glob: string, signal?: AbortSignal): Promise<DebianGlob> {
  const matched = await matchingPackages(glob);
  const twins = matched.filter((n) => n.endsWith('-unsigned')).map(signedTwin);
  const asked = new Set([...matched, ...twins]);
  const records = await aptRecords([...asked], signal);
  await addMetaTargets(records, asked, signal);
  const dropped: Record<DroppedKind, string[]> = { debug: [], unsigned: [], meta: [], template: [], unavailable: [] };
  const kept = new Set<string>();
  for (const name of matched) {
    const { drop, runs } = classify(name, records);
    if (drop) dropped[drop].push(name);
    if (runs) kept.add(runs);
  }
  const packages = [...kept].sort(byVersion);
  if (packages.length === 0) {
    throw new FaultlineError('kernel', `no kernel image to run matches ${glob}: ${breakdown(dropped)}`, {
      where: `debian:${glob}`,
      hint: 'match the kernel images themselves, e.g. debian:linux-image-6.1.0-*-cloud-amd64',
    });
  }
  return { glob, matched, packages, dropped, sizes: new Map(packages.map((p) => [p, records.get(p)?.size ?? 0])) };
}

/** The one line saying what a glob dropped and why; null when it dropped nothing. */
export function describeDropped(expansion: DebianGlob): string | null {
  const count = Object.values(expansion.dropped).reduce((n, names) => n + names.length, 0);
  return count === 0 ? null : `debian:${expansion.glob}: ${count} more matching package${count === 1 ? ' is' : 's are'} not run: ${breakdown(expansion.dropped)}`;
}

function breakdown(dropped: Record<DroppedKind, string[]>): string {
  const parts: [string[], string, string, string][] = [
    [dropped.debug, 'debug symbol package', 'debug symbol packages', ' (-dbg: no kernel inside)'],
    [dropped.unsigned, 'unsigned twin', 'unsigned twins', ' (-unsigned: the signed package is the same kernel)'],
    [dropped.meta, 'meta package', 'meta packages', ' (the kernel named is run)'],
    [dropped.template, 'signing template', 'signing templates', ''],
    [dropped.unavailable, 'name', 'names', ' apt has nothing to download for'],
  ];
  return parts
    .filter(([names]) => names.length > 0)
    .map(([names, one, many, why]) => `${names.length} ${names.length === 1 ? one : many}${why}`)
    .join(', ');
}

/** Whether a package is dropped, and which kernel package it runs (itself, a signed twin, a meta package's kernel). */
function classify(name: string, records: Map<string, AptRecord>, depth = 0): { drop: DroppedKind | null; runs: string | null } {
  const record = records.get(name);
  if (!record) return { drop: 'unavailable', runs: null };
  if (record.section === 'debug' || name.endsWith('-dbg')) return { drop: 'debug', runs: null };
  if (name.endsWith('-template')) return { drop: 'template', runs: null };
  const target = imageDependency(record);
  if (target && depth < 5) {
    const inner = classify(target, records, depth + 1);
    // A meta package of debug symbols is debug symbols; one of a package apt cannot give, nothing.
    return inner.runs ? { drop: 'meta', runs: inner.runs } : { drop: inner.drop, runs: null };
  }
  if (name.endsWith('-unsigned') && records.has(signedTwin(name))) return { drop: 'unsigned', runs: signedTwin(name) };
  return { drop: null, runs: name };
}

const signedTwin = (name: string): string => name.replace(/-unsigned$/, '');

// A kernel image depends on tools (kmod, initramfs-tools); a meta package on one linux-image.
const imageDependency = (record: AptRecord): string | undefined => record.depends.find((d) => d.startsWith('linux-image-'));

/** Reads the records of the packages meta packages point at, which the glob may not match. */
async function addMetaTargets(records: Map<string, AptRecord>, asked: Set<string>, signal: AbortSignal | undefined): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const targets = [...records.values()].map(imageDependency).filter((d): d is string => d !== undefined);
    const wanted = [...new Set(targets.flatMap((d) => [d, signedTwin(d)]))].filter((d) => !asked.has(d));
    if (wanted.length === 0) return;
    for (const name of wanted) asked.add(name);
    for (const [name, record] of await aptRecords(wanted, signal)) records.set(name, record);
  }
}
