import { join, resolve } from 'node:path';
import { formatKernelSpec, type KernelSpec } from '../../kernels/spec.js';
import { runBisect } from '../bisect/bisect.js';
import { kernelCandidates, treeCandidates, type Candidate } from '../bisect/candidates.js';
import { shellWord } from '../bisect/answer.js';
import { openBisectDirectory, type BisectDocument } from '../bisect/state.js';
import { parseBadClass } from '../bisect/verdict.js';
import { FaultlineError } from '../core/errors.js';
import { hashParts } from '../core/hash.js';
import { usableCacheDir } from '../core/paths.js';
import { sweepStaleTempDirs } from '../core/temp-dirs.js';
import type { AccelMode, MachineMode } from '../qemu/guest-config.js';
import { terminalLine } from '../reporters/terminal-text.js';
import { loadRunCases } from '../suites.js';
import { abortOnSignals } from './interrupt.js';
import { sourceSpecFromFlags, withBuildImage } from './kernel-flags.js';
import { kernelMatrix } from './matrix-flags.js';
import { runLimits } from './run.js';

export interface BisectFlags {
  suite: string[];
  case: string[];
  kernel: string[];
  tree?: string;
  good?: string;
  bad?: string;
  config: string[];
  base?: string;
  buildImage?: string;
  status?: string;
  retries: string;
  accel: AccelMode;
  machine?: MachineMode;
  workers?: string;
  cpus?: string;
  tcgSlowdown: string;
  append: string[];
  image?: string;
  yes?: boolean;
  results?: string;
}

// `faultline bisect`: the first kernel or commit on which the chosen cases change class. The flags
// become the candidates, the guest and the inputs a rerun must match; runner/bisect does the rest.
export async function bisectCommand(flags: BisectFlags): Promise<number> {
  const { guest, retries } = runLimits({ ...flags, expect: [], patches: [], kselftestRunner: undefined });
  const badClass = parseBadClass(flags.status);
  const blank = flags.case.find((pattern) => pattern.trim() === '');
  if (blank !== undefined) throw new FaultlineError('usage', `--case ${JSON.stringify(blank)} names no case: an empty pattern matches every case`, { hint: 'Give part of a suite/case name (e.g. --case read-minor), or drop --case.' });
  const cacheDir = usableCacheDir();
  const found = await candidatesOf(flags);
  const suites = flags.suite.map((s) => (/^[a-z]+:/.test(s) && !/\.ya?ml$/.test(s) ? s : resolve(s)));
  const inputs: Record<string, unknown> = {
    form: found.form,
    ...(found.form === 'tree' ? { tree: resolve(flags.tree!), good: found.good, bad: found.bad, base: flags.base ?? 'tinyconfig', fragments: flags.config.map((c) => resolve(c)), buildImage: flags.buildImage ?? null } : { kernels: found.candidates.map((c) => c.kernel) }),
    suites,
    cases: flags.case,
    badClass,
    guest: { accel: guest.accel, machine: guest.machine, workers: guest.workers, cpus: guest.cpus, tcgSlowdown: guest.tcgSlowdown, append: guest.append, image: guest.image },
  };
  // Cases are loaded once before anything runs, so a bad suite or pattern is a usage error now.
  await loadRunCases(flags.suite, flags.case, { kernels: [found.candidates[0]!.spec], from: null, cacheDir });
  const dir = flags.results ?? join('results', `bisect-${hashParts([JSON.stringify(inputs)]).slice(0, 12)}`);
  const fresh = (): BisectDocument => ({
    format: 'faultline-bisect',
    version: 1,
    inputs,
    form: found.form,
    command: process.argv.slice(1),
    candidates: [],
    badClass,
    oracle: null,
    steps: [],
    state: 'running',
    answer: null,
    skipped: [],
    reproduce: null,
    exitCode: null,
  });
  const { doc, resumed } = openBisectDirectory(dir, fresh);
  await sweepStaleTempDirs();
  const abort = abortOnSignals();
  return runBisect({
    dir,
    doc,
    resumed,
    candidates: found.candidates,
    loadCases: (spec) => loadRunCases(flags.suite, flags.case, { kernels: [spec], from: null, cacheDir }),
    guest,
    retries,
    cacheDir,
    reproduce: (candidate, cases) => reproduceCommand(flags, found, candidate, cases),
    out: (line) => process.stdout.write(`${terminalLine(line)}\n`),
    signal: abort.signal,
  });
}

type Found = { form: 'tree'; good: string; bad: string; candidates: Candidate[] } | { form: 'kernels'; candidates: Candidate[] };

async function candidatesOf(flags: BisectFlags): Promise<Found> {
  if (flags.tree) {
    if (flags.kernel.length > 0) throw new FaultlineError('usage', '--tree and --kernel are two forms of bisect', { hint: 'Give --tree DIR --good REV --bad REV, or --kernel SPEC --kernel SPEC ...' });
    if (!flags.good || !flags.bad) throw new FaultlineError('usage', `--tree needs ${!flags.good && !flags.bad ? '--good and --bad' : !flags.good ? '--good' : '--bad'}: the commits known good and known bad`, { hint: 'e.g. --good v6.1 --bad HEAD' });
    const source = withBuildImage([await sourceSpecFromFlags({ ...flags, patches: [] })], flags.buildImage)[0]!;
    if (source.kind !== 'source') throw new Error('a tree spec is a source spec');
    const { patches: _patches, ...base } = source;
    return { form: 'tree', ...(await treeCandidates(base, flags.good, flags.bad)) };
  }
  if (flags.good || flags.bad) throw new FaultlineError('usage', '--good and --bad name commits of a --tree', { hint: 'Add --tree DIR, or bisect kernels: the first --kernel (by version) is the good end, the last the bad one.' });
  if (flags.config.length > 0 || flags.base !== undefined) throw new FaultlineError('usage', '--config and --base apply to a source tree', { hint: 'Add --tree DIR --good REV --bad REV.' });
  if (flags.kernel.length === 0) throw new FaultlineError('usage', 'bisect needs kernels or a tree', { hint: "Give --kernel 'debian:linux-image-6.1.0-*-cloud-amd64' (or several --kernel), or --tree DIR --good REV --bad REV." });
  const matrix = await kernelMatrix({ kernel: flags.kernel, patches: [], config: [], ...(flags.yes ? { yes: true } : {}) }, (message) => process.stdout.write(`${terminalLine(`note: ${message}`)}\n`));
  const specs = withBuildImage(matrix.kernels.map((k) => k.spec), flags.buildImage);
  const distinct = specs.filter((s, i) => specs.findIndex((t) => JSON.stringify(t) === JSON.stringify(s)) === i);
  if (distinct.length < 2) throw new FaultlineError('usage', `bisect needs at least two kernels, and ${flags.kernel.join(' ')} ${distinct.length === 1 ? 'names one' : 'names none'}`, { hint: 'Give a glob matching several packages, or --kernel several times.' });
  return { form: 'kernels', candidates: await kernelCandidates(distinct) };
}

// The `faultline run` that does what one step did: the tree form builds GOOD plus the commits up
// to the candidate as the range GOOD..HASH (the same tree, the same commits).
function reproduceCommand(flags: BisectFlags, found: Found, candidate: Candidate, cases: string[] | null): string {
  const words = ['faultline', 'run'];
  if (found.form === 'tree') {
    words.push('--tree', flags.tree!);
    // The tree at GOOD itself is the range of GOOD's own commit, on its parent.
    words.push('--patches', candidate.index > 0 ? `${found.good.slice(0, 12)}..${candidate.commit!.hash.slice(0, 12)}` : `${found.good.slice(0, 12)}~1..${found.good.slice(0, 12)}`);
    for (const c of flags.config) words.push('--config', c);
    if (flags.base !== undefined) words.push('--base', flags.base);
    if (flags.buildImage !== undefined) words.push('--build-image', flags.buildImage);
  } else {
    words.push('--kernel', formatKernelSpec(candidate.spec as KernelSpec));
  }
  for (const s of flags.suite) words.push('--suite', s);
  for (const c of cases ?? flags.case) words.push('--case', c);
  if (flags.accel !== 'auto') words.push('--accel', flags.accel);
  if (flags.machine !== undefined && flags.machine !== 'auto') words.push('--machine', flags.machine);
  if (flags.workers !== undefined) words.push('--workers', flags.workers);
  if (flags.cpus !== undefined) words.push('--cpus', flags.cpus);
  if (flags.tcgSlowdown !== '4') words.push('--tcg-slowdown', flags.tcgSlowdown);
  for (const a of flags.append) words.push('--append', a);
  if (flags.image !== undefined && flags.image !== 'busybox') words.push('--image', flags.image);
  return words.map(shellWord).join(' ');
}
