import { readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { FaultlineError } from '../core/errors.js';
import { isOwnPath, savedRunPlace } from './own-files.js';

/** A run a command writes or reads, named in messages by its role ('this run', 'the baseline'). */
export interface RunRole {
  path: string;
  role: string;
}

export interface OutputPlan {
  /** Each file flag and the path it names; undefined when not given. */
  files: Readonly<Record<string, string | undefined>>;
  /** The results directory the command fills (`--results`), when it is named. */
  results?: RunRole | undefined;
  /** The saved runs the command reads: results directories or run documents. */
  reads?: readonly RunRole[];
}

/** Where a path leads, and its name as given, for messages. */
interface Place {
  name: string;
  at: string;
}

interface Guarded extends Place {
  role: string;
  directory: boolean;
}

// Nothing is written over what the user did not name for it: checked before anything is written,
// on where paths lead (through symlinks, `..` and hard links), not on how they are spelled. An
// output may not be one of a run's own files (of the run being written, or of one read: its
// document, or what faultline wrote in its results directory), nor the file another output flag
// names; merge's results may not go into a run it reads, nor hold one. Another name beside a run's
// files is the user's to choose (the CI action keeps junit.xml there).
export function refuseUnsafeOutputs(plan: OutputPlan): void {
  const given = Object.entries(plan.files).filter((entry): entry is [string, string] => entry[1] !== undefined);
  for (const [flag, path] of given) {
    if (path === '') throw new FaultlineError('usage', `${flag} '' names no file`, { hint: `Give a file path, e.g. ${flag} ${exampleName(flag)}.` });
  }
  if (plan.results?.path === '') throw new FaultlineError('usage', "--results '' names no directory", { hint: 'Give a new or empty directory with --results DIR.' });
  const outputs = given.map(([flag, path]) => ({ flag, name: path, at: located(path) }));
  const results = plan.results ? { role: plan.results.role, directory: true, name: plan.results.path, at: located(plan.results.path) } : null;
  const reads = (plan.reads ?? []).map(({ path, role }): Guarded => {
    const place = savedRunPlace(path);
    const name = place.dir ?? place.file;
    return { role, directory: place.dir !== null, name, at: located(name) };
  });

  for (const output of outputs) {
    for (const run of results ? [results, ...reads] : reads) refuseWritingOver(output, run);
  }
  if (results) {
    for (const run of reads) refuseResultsAround(results, run);
  }
  for (const [i, a] of outputs.entries()) {
    const b = outputs.slice(i + 1).find((other) => sameFile(a, other));
    if (b) {
      throw new FaultlineError('usage', `${a.flag} ${a.name} and ${b.flag} ${b.name} are the same file${a.name === b.name ? '' : ` (${a.at})`}: one would overwrite the other`, {
        hint: 'Give each output its own file.',
      });
    }
  }
}

function refuseWritingOver(output: Place & { flag: string }, run: Guarded): void {
  const named = `${output.flag} ${output.name}${leadsElsewhere(output)}`;
  const inside = run.directory ? pathWithin(output.at, run.at) : null;
  if (inside === '') {
    throw new FaultlineError('usage', `${named} ${output.name === run.name ? 'is' : `is ${run.name},`} the results directory of ${run.role}`, { hint: `Give ${output.flag} a file path.` });
  }
  if (inside !== null && isOwnPath(inside)) {
    throw new FaultlineError('usage', `${named} is ${inside} in ${run.name}, the results directory of ${run.role}: faultline never writes over a run's own files`, {
      hint: `Give ${output.flag} another path.`,
    });
  }
  if (!run.directory && sameFile(output, run)) {
    throw new FaultlineError('usage', `${named} is ${run.name}, the run file of ${run.role}: faultline never writes over a run it reads`, { hint: `Give ${output.flag} another path.` });
  }
  const linked = hardLinkIn(output.at, run);
  if (linked) {
    throw new FaultlineError('usage', `${named} is a hard link to ${linked}, a file of ${run.role}: faultline never writes over a run's files`, { hint: `Give ${output.flag} another path.` });
  }
}

function refuseResultsAround(results: Guarded, run: Guarded): void {
  const named = `--results ${results.name}${leadsElsewhere(results)}`;
  const hint = `Give --results a new directory outside ${run.name}.`;
  const inside = run.directory ? pathWithin(results.at, run.at) : null;
  if (inside !== null) {
    const place = inside === '' ? `is ${results.name === run.name ? '' : `${run.name}, `}` : `is inside ${run.name}, `;
    throw new FaultlineError('usage', `${named} ${place}the results directory of ${run.role}: faultline never writes into a run it reads`, { hint });
  }
  if (pathWithin(run.at, results.at) !== null) {
    throw new FaultlineError('usage', `${run.name}, the ${run.directory ? 'results directory' : 'run file'} of ${run.role}, is inside ${named}: faultline never writes into a run it reads`, {
      hint: `Give --results a new directory that does not hold ${run.name}.`,
    });
  }
}

/** " (/real/place)" when a path leads somewhere other than it reads. */
const leadsElsewhere = (place: Place): string => (place.at === resolve(place.name) ? '' : ` (${place.at})`);

const exampleName = (flag: string): string => ({ '--junit': 'junit.xml', '--html': 'report.html' })[flag] ?? 'out.json';

// Where a path leads, like realpath(3), but for paths whose last components do not exist yet:
// each existing component's symlink is followed, and `..` is taken after it, as the kernel does.
export function located(path: string): string {
  const todo = `${path.startsWith('/') ? '' : `${process.cwd()}/`}${path}`.split('/');
  let at = '/';
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      at = dirname(at);
      continue;
    }
    const next = join(at, part);
    let target: string | null = null;
    try {
      target = hops < 40 ? readlinkSync(next) : null;
    } catch {
      // Not a link, or not there yet: the name stands as it is.
    }
    if (target === null) {
      at = next;
      continue;
    }
    hops++;
    if (target.startsWith('/')) at = '/';
    todo.unshift(...target.split('/'));
  }
  return at;
}

function statOf(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const sameInode = (a: Stats | null, b: Stats | null): boolean => a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;

/** Where `path` is inside `dir` ('' for `dir` itself), by name or by a directory on its way being
 * `dir` (a bind mount); null when it is not. */
function pathWithin(path: string, dir: string): string | null {
  const target = statOf(dir);
  for (let p = path; ; p = dirname(p)) {
    if (p === dir || (target?.isDirectory() && sameInode(statOf(p), target))) return relative(p, path);
    if (dirname(p) === p) return null;
  }
}

/** Two outputs that a write to one replaces the other: the same place, or one file by two names. A
 * FIFO or a device (/dev/null, /dev/stdout) is written through, not replaced, so it may be shared. */
function sameFile(a: Place, b: Place): boolean {
  const [sa, sb] = [statOf(a.at), statOf(b.at)];
  if ((sa && !sa.isFile()) || (sb && !sb.isFile())) return false;
  return a.at === b.at || sameInode(sa, sb);
}

/** The run's own file in its results directory that an existing output is another name of, if any. */
function hardLinkIn(path: string, run: Guarded): string | null {
  const output = statOf(path);
  if (!run.directory || !output?.isFile() || output.nlink < 2) return null;
  const found = filesUnder(run.at).find((file) => isOwnPath(relative(run.at, file)) && sameInode(statOf(file), output));
  return found === undefined ? null : join(run.name, relative(run.at, found));
}

function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}
