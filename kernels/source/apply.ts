import { copyFile, lstat, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from '../../runner/core/env.js';
import { FaultlineError } from '../../runner/core/errors.js';
import type { Patch } from './patches.js';

// What a scratch source copy holds beyond the user's tree: the files the last series touched.
// It is written before any file changes, so an interrupted run is undone by the next one.
export interface ScratchState {
  version: 1;
  /** Tree-relative paths that may differ from the user's tree. */
  touched: string[];
  /** Names of the patches applied, in order (for people reading the file). */
  applied: string[];
}

const stateName = 'faultline-state.json';

export async function readScratchState(scratch: string): Promise<ScratchState> {
  const text = await readFile(join(scratch, stateName), 'utf8').catch(() => null);
  if (text === null) return { version: 1, touched: [], applied: [] };
  const parsed = JSON.parse(text) as ScratchState;
  return { version: 1, touched: parsed.touched ?? [], applied: parsed.applied ?? [] };
}

async function writeScratchState(scratch: string, state: ScratchState): Promise<void> {
  const tmp = join(scratch, `${stateName}.tmp`);
  await writeFile(tmp, JSON.stringify(state, null, 1));
  await rename(tmp, join(scratch, stateName));
}

// the scratch copy has no .git; never let git find a repository around the cache directory
export const applyEnv = (src: string): NodeJS.ProcessEnv => cLocaleEnv({ GIT_CEILING_DIRECTORIES: dirname(src) });

/** Every path a patch reads or writes (both names of a rename), as git apply parses it. */
export async function patchPaths(patch: Patch, src: string): Promise<string[]> {
  const r = await execa('git', ['apply', `-p${patch.strip ?? 1}`, '--numstat', '-z', '--allow-empty'], {
    cwd: src,
    env: applyEnv(src),
    input: patch.text,
    reject: false,
    stripFinalNewline: false,
  });
  if (r.exitCode !== 0) {
    throw new FaultlineError('build', `patch ${patch.name} cannot be parsed: ${gitErrors(r.stderr)}`, {
      where: patch.origin,
      hint: 'check that the file is a complete unified diff (not truncated, not reformatted by a mail client)',
    });
  }
  // records: "added\tdeleted\tpath\0"; a rename is named by its new path only
  const paths = r.stdout.split('\0').flatMap((field) => /^(?:-|\d+)\t(?:-|\d+)\t(.+)$/s.exec(field)?.[1] ?? []);
  // the old side of a rename is deleted, so it is touched too (git strips p-1 components there)
  for (const m of patch.text.matchAll(/^rename from (.+)$/gm)) {
    const old = m[1]!.split('/').slice(Math.max((patch.strip ?? 1) - 1, 0)).join('/');
    if (!paths.includes(old)) paths.unshift(old);
  }
  return paths;
}

/** A path's content as a comparable value: file bytes plus exec bit, a symlink's target, or null when absent. */
async function contentOf(path: string): Promise<Buffer | null> {
  const info = await lstat(path).catch(() => null);
  if (!info || info.isDirectory()) return null;
  if (info.isSymbolicLink()) return Buffer.concat([Buffer.from('l'), Buffer.from(await readlink(path))]);
  return Buffer.concat([Buffer.from(info.mode & 0o111 ? 'x' : 'f'), await readFile(path)]);
}

/** Copies one path from `fromRoot` to `toRoot` (replacing what is there), or removes it there. */
async function copyPath(fromRoot: string, toRoot: string, rel: string): Promise<void> {
  const from = join(fromRoot, rel);
  const to = join(toRoot, rel);
  const info = await lstat(from).catch(() => null);
  if (!info || info.isDirectory()) {
    await rm(to, { force: true });
    return;
  }
  await mkdir(dirname(to), { recursive: true });
  const tmp = `${to}.faultline-tmp`;
  await rm(tmp, { force: true });
  if (info.isSymbolicLink()) await symlink(await readlink(from), tmp);
  else await copyFile(from, tmp); // copyFile keeps the mode
  await rename(tmp, to);
}

// Brings the scratch copy from "tree + previous series" to "tree + this series" without
// touching any file whose content stays the same, so make rebuilds only what really changed.
// The series is applied (git apply, one patch at a time) in a shadow directory holding only the
// user's versions of the files any of the series' patches touch; then each file the previous or
// the new series touches is written into the scratch copy only if it differs. A patch that does
// not apply leaves the scratch copy exactly as it was, and the error names the patch, the file
// and the hunk.
export async function applySeries(opts: {
  tree: string;
  scratch: string;
  src: string;
  patches: readonly Patch[];
  onPatch?: (patch: Patch, index: number) => void;
  signal?: AbortSignal;
}): Promise<{ touched: string[]; written: string[] }> {
  const { tree, scratch, src, patches } = opts;
  const previous = await readScratchState(scratch);
  const perPatch: string[][] = [];
  for (const patch of patches) perPatch.push(await patchPaths(patch, src));
  const touched = [...new Set(perPatch.flat())].sort();

  const shadow = join(scratch, 'shadow');
  await rm(shadow, { recursive: true, force: true });
  await mkdir(shadow, { recursive: true });
  try {
    for (const rel of touched) await copyPath(tree, shadow, rel);
    for (const [i, patch] of patches.entries()) {
      opts.signal?.throwIfAborted();
      opts.onPatch?.(patch, i);
      const r = await execa('git', ['apply', `-p${patch.strip ?? 1}`, '--whitespace=nowarn', '--allow-empty'], {
        cwd: shadow,
        env: applyEnv(shadow),
        input: patch.text,
        reject: false,
      });
      if (r.exitCode !== 0) throw applyError(patch, i, patches.length, r.stderr);
    }
    opts.signal?.throwIfAborted();

    const all = [...new Set([...previous.touched, ...touched])].sort();
    // recorded before any file changes: a run killed from here on is finished by the next one
    await writeScratchState(scratch, { version: 1, touched: all, applied: [] });
    const written: string[] = [];
    for (const rel of all) {
      const wanted = touched.includes(rel) ? shadow : tree;
      const [now, want] = await Promise.all([contentOf(join(src, rel)), contentOf(join(wanted, rel))]);
      if (now === null ? want === null : want !== null && now.equals(want)) continue;
      await copyPath(wanted, src, rel);
      written.push(rel);
    }
    await writeScratchState(scratch, { version: 1, touched, applied: patches.map((p) => p.name) });
    return { touched, written };
  } finally {
    await rm(shadow, { recursive: true, force: true });
  }
}

function gitErrors(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('error: ') || l.startsWith('fatal: '))
    .map((l) => l.replace(/^(error|fatal): /, ''))
    .join('; ');
}

// git apply says "error: patch failed: mm/userfaultfd.c:123" (123: the hunk's first line in the
// original file); the hunk's number is found by matching that line in the patch text.
export function applyError(patch: Patch, index: number, count: number, stderr: string): FaultlineError {
  const position = `patch ${index + 1}/${count} ${patch.name}`;
  const failed = /^error: patch failed: (.+):(\d+)$/m.exec(stderr);
  if (failed) {
    const file = failed[1]!;
    const line = Number(failed[2]);
    const hunk = findHunk(patch.text, file, line, patch.strip ?? 1);
    const hunkText = hunk ? `hunk #${hunk.number} (${hunk.header})` : `the hunk at line ${line}`;
    return new FaultlineError('build', `${position} does not apply: ${file}: ${hunkText} does not match the tree`, {
      where: patch.origin,
      hint: `the tree's ${file} differs from what the patch expects near line ${line}; rebase the patch on this tree, or use the tree it was written for`,
    });
  }
  const reason = gitErrors(stderr) || stderr.trim() || 'git apply failed';
  return new FaultlineError('build', `${position} does not apply: ${reason}`, {
    where: patch.origin,
    hint: 'rebase the patch on this tree, or check the order of the series',
  });
}

/** The number (1-based, within the file's section) and header of the hunk starting at oldLine. */
export function findHunk(text: string, file: string, oldLine: number, strip = 1): { number: number; header: string } | null {
  const lines = text.split('\n');
  let inFile = false;
  let number = 0;
  const stripPath = (p: string) => p.split('/').slice(strip).join('/');
  for (const [i, line] of lines.entries()) {
    const git = /^diff --git (\S+) (\S+)$/.exec(line);
    if (git) {
      inFile = stripPath(git[1]!) === file || stripPath(git[2]!) === file;
      number = 0;
      continue;
    }
    if (line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ ')) {
      const oldName = line.slice(4).split('\t')[0]!.trim();
      const newName = lines[i + 1]!.slice(4).split('\t')[0]!.trim();
      if (!/^diff --git /.test(lines[i - 1] ?? '') && !/^(index|new|deleted|similarity|rename|old mode|new mode) /.test(lines[i - 1] ?? '')) {
        inFile = stripPath(oldName) === file || stripPath(newName) === file;
        number = 0;
      }
      continue;
    }
    const hunk = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
    if (hunk && inFile) {
      number++;
      if (Number(hunk[1]) === oldLine) return { number, header: hunk[0] };
    }
  }
  return null;
}
