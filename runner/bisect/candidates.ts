import { basename } from 'node:path';
import { execa } from 'execa';
import { bzImageRelease, readBzImageHead } from '../../kernels/bzimage.js';
import { resolveMetaPackage } from '../../kernels/debian.js';
import { loadPatchSeries } from '../../kernels/source/patches.js';
import { commitOf } from '../../kernels/source/revision.js';
import { formatKernelSpec, type KernelSpec, type SourceSpec } from '../../kernels/spec.js';
import { cLocaleEnv } from '../core/env.js';
import { FaultlineError } from '../core/errors.js';
import { orderByRelease } from './order.js';
import type { CandidateRecord } from './state.js';

/** A candidate with the spec that builds or fetches it. */
export interface Candidate extends CandidateRecord {
  spec: KernelSpec;
  /** The safe part of its step directories' names. */
  dirLabel: string;
}

/** The tree form: the tree at GOOD, then GOOD plus each commit of GOOD..BAD in turn. */
export interface TreeCandidates {
  good: string;
  bad: string;
  candidates: Candidate[];
}

const git = (tree: string, args: string[]) => execa('git', args, { cwd: tree, reject: false, env: cLocaleEnv(), stdin: 'ignore' });

// Candidate k is the tree at GOOD with the first k commits of GOOD..BAD applied, built as the
// range's first k patches (a SourceSpec with `take`): the range is exported once at GOOD and every
// candidate builds in the same scratch tree, incrementally. A merge has no single diff to apply,
// so a range holding one is refused; a commit without changes is no candidate (it cannot change
// the kernel), as `git format-patch` leaves it out.
export async function treeCandidates(base: Omit<SourceSpec, 'patches' | 'take'>, goodRev: string, badRev: string): Promise<TreeCandidates> {
  const tree = base.tree;
  if ((await git(tree, ['rev-parse', '--show-toplevel'])).exitCode !== 0) {
    throw new FaultlineError('usage', `--tree ${tree} is not a git tree, and --good/--bad name commits`, { hint: 'Bisect a git tree (git init; git add -A -f; git commit), or bisect kernels with --kernel.' });
  }
  const good = await commitOf(tree, goodRev);
  const bad = await commitOf(tree, badRev);
  for (const [flag, rev, hash] of [['--good', goodRev, good], ['--bad', badRev, bad]] as const) {
    if (!hash) throw new FaultlineError('usage', `${flag} ${rev} is not a commit in ${tree}`, { hint: `Check it with: git -C ${tree} log -1 ${rev}` });
  }
  if (good === bad) throw new FaultlineError('usage', `--good ${goodRev} and --bad ${badRev} are the same commit`, { hint: 'Give the last commit known good and the first known bad.' });
  if ((await git(tree, ['merge-base', '--is-ancestor', good!, bad!])).exitCode !== 0) {
    throw new FaultlineError('usage', `--good ${goodRev} is not an ancestor of --bad ${badRev}`, { hint: 'The good commit comes first in the history: bisect looks for the commit after it that broke the cases.' });
  }
  const merges = Number((await git(tree, ['rev-list', '--merges', '--count', `${good}..${bad}`])).stdout.trim());
  if (merges > 0) {
    throw new FaultlineError('usage', `${goodRev}..${badRev} holds ${merges} merge commit${merges === 1 ? '' : 's'}; bisect needs a linear range`, {
      hint: 'Give --good and --bad on one line of history without merges (or rebase the range onto a line).',
    });
  }
  const range = `${good}..${bad}`;
  const series = await loadPatchSeries([range], tree);
  const log = await git(tree, ['log', '--no-merges', '--format=%H%x1f%s%x1f%an <%ae>%x1e', range]);
  const about = new Map(log.stdout.split('\x1e').map((r) => r.trim().split('\x1f')).filter((f) => f.length === 3).map(([hash, subject, author]) => [hash!, { hash: hash!, subject: subject!, author: author! }]));
  const goodLog = await git(tree, ['log', '-1', '--format=%H%x1f%s%x1f%an <%ae>', good!]);
  const [, goodSubject = '', goodAuthor = ''] = goodLog.stdout.trim().split('\x1f');
  const commits = [{ hash: good!, subject: goodSubject, author: goodAuthor }];
  for (const patch of series) {
    const hash = /^From ([0-9a-f]{40}) /.exec(patch.text)?.[1];
    const commit = hash ? about.get(hash) : undefined;
    if (!commit) throw new FaultlineError('usage', `cannot tell which commit of ${range} the patch "${patch.name}" is`, { hint: 'Check the range with: git log --oneline GOOD..BAD' });
    commits.push(commit);
  }
  const candidates = commits.map((commit, take): Candidate => {
    const spec: SourceSpec = { ...base, patches: [range], take };
    return { index: take, label: commit.hash.slice(0, 12), kernel: formatKernelSpec(spec), commit, spec, dirLabel: commit.hash.slice(0, 12) };
  });
  return { good: good!, bad: bad!, candidates };
}

// The kernels form: the kernels given, oldest first by release; the release of a Debian package
// is in its name, of a bzImage in its header, so ordering them costs no download and no boot.
export async function kernelCandidates(specs: readonly KernelSpec[]): Promise<Candidate[]> {
  const found = await Promise.all(specs.map(async (spec) => ({ spec, release: await releaseOf(spec) })));
  return orderByRelease(found).map(({ spec, release }, index) => ({
    index,
    label: formatKernelSpec(spec),
    kernel: formatKernelSpec(spec),
    release,
    spec,
    dirLabel: dirLabelOf(spec, release),
  }));
}

// A bzImage's own name (vmlinuz-4-breaks-minor) says more than its release, which images of one
// tree share; a build's generic arch/x86/boot/bzImage says nothing.
function dirLabelOf(spec: KernelSpec, release: string): string {
  const name = spec.kind === 'file' && !/^(bzImage|vmlinuz|vmlinux)$/.test(basename(spec.path)) ? basename(spec.path) : release;
  return name.replace(/[^A-Za-z0-9._+-]+/g, '_').slice(0, 60);
}

async function releaseOf(spec: KernelSpec): Promise<string> {
  switch (spec.kind) {
    case 'debian':
      return (await resolveMetaPackage(spec.package)).replace(/^linux-image-/, '');
    case 'deb':
      return basename(spec.path).replace(/^linux-image-/, '').replace(/_.*$/, '');
    case 'file':
      return bzImageRelease(await readBzImageHead(spec.path)) ?? basename(spec.path);
    case 'source':
      return basename(spec.definition ?? spec.tree).replace(/\.ya?ml$/, '');
    case 'host':
      throw new FaultlineError('usage', '--kernel host is the machine\'s own kernel: there is nothing to boot in its place', { hint: 'Bisect guest kernels: debian:<package> globs, bzImages or .deb files.' });
  }
}
