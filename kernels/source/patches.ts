import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { cLocaleEnv } from '../../runner/core/env.js';
import { FaultlineError } from '../../runner/core/errors.js';

// One patch of a series, in the order it is applied. `text` goes to `git apply` unchanged.
export interface Patch {
  /** "0002-mm-userfaultfd-fix-foo.patch" for a file, the mail subject for an mbox message. */
  name: string;
  /** The file (or commit range) it came from. */
  origin: string;
  text: string;
  /** Leading path components to strip (`git apply -p`); 1 unless a quilt series says otherwise. */
  strip?: number;
}

const inputHint =
  'give a patch file (git format-patch or a unified diff), an mbox, a directory of *.patch files, a quilt series file, or for a git tree a commit range A..B';

// Every form `--patches` accepts is flattened here into one ordered list, so the build never
// cares where a patch came from.
export async function loadPatchSeries(inputs: readonly string[], tree: string): Promise<Patch[]> {
  const series: Patch[] = [];
  for (const input of inputs) series.push(...(await loadInput(input, tree)));
  return series;
}

async function loadInput(input: string, tree: string): Promise<Patch[]> {
  const path = resolve(input);
  const info = await stat(path).catch(() => null);
  if (!info) {
    if (isCommitRange(input)) return loadCommitRange(input, tree);
    throw new FaultlineError('usage', `patch input ${input} does not exist`, { where: input, hint: inputHint });
  }
  if (info.isDirectory()) return loadDirectory(path);
  const text = await readText(path);
  if (hasDiff(text)) return splitMessages(text, path);
  const series = quiltSeries(text, path);
  if (series) return loadQuiltSeries(series, path);
  throw new FaultlineError('usage', `${path} holds no patch: no diff, and it is not a quilt series file`, {
    where: path,
    hint: inputHint,
  });
}

// "A..B" or "A.." (revisions may contain "/" and "~", but a path such as ../x.patch is not one).
export const isCommitRange = (text: string) => /^(?![./])\S*[^\s/.]\.\.(?:[^\s/.]\S*)?$/.test(text) && !text.includes('...');

async function loadCommitRange(range: string, tree: string): Promise<Patch[]> {
  const env = cLocaleEnv();
  const top = await execa('git', ['rev-parse', '--show-toplevel'], { cwd: tree, reject: false, env, stdin: 'ignore' });
  if (top.exitCode !== 0) {
    throw new FaultlineError('usage', `${range} looks like a commit range, but ${tree} is not a git tree`, {
      where: range,
      hint: 'commit ranges work only with a git tree; for a plain tree, give patch files',
    });
  }
  // The user's diff.noprefix / mnemonicPrefix settings would break applying with -p1.
  const out = await execa('git', ['-c', 'diff.noprefix=false', '-c', 'diff.mnemonicPrefix=false', 'format-patch', '--stdout', '--no-signature', '--no-color', range], {
    cwd: tree,
    reject: false,
    env,
    stdin: 'ignore',
    stripFinalNewline: false,
  });
  if (out.exitCode !== 0) {
    throw new FaultlineError('usage', `git format-patch ${range} failed: ${out.stderr.trim().split('\n')[0] ?? ''}`, {
      where: range,
      hint: `check that both ends of ${range} are commits in ${tree} (git log ${range})`,
    });
  }
  const patches = hasDiff(out.stdout) ? splitMessages(out.stdout, range) : [];
  if (patches.length === 0) {
    throw new FaultlineError('usage', `commit range ${range} holds no commits with changes`, {
      where: range,
      hint: 'a range A..B means the commits after A up to B; check the order',
    });
  }
  return patches;
}

async function loadDirectory(dir: string): Promise<Patch[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.patch')).sort();
  if (names.length === 0) {
    throw new FaultlineError('usage', `directory ${dir} holds no *.patch files`, { where: dir, hint: inputHint });
  }
  const out: Patch[] = [];
  for (const name of names) {
    const path = join(dir, name);
    // `git format-patch --cover-letter -o DIR` writes the cover letter as 0000-cover-letter.patch
    if (isCoverLetter(await readText(path), name)) continue;
    out.push(...(await loadPatchFile(path)));
  }
  if (out.length === 0) {
    throw new FaultlineError('usage', `directory ${dir} holds only a cover letter, no patches`, { where: dir, hint: inputHint });
  }
  return out;
}

function isCoverLetter(text: string, name: string): boolean {
  if (hasDiff(text)) return false;
  return /^0+-cover-letter\.patch$/.test(name) || /\[[^\]]*\b0+\/\d+\]/.test(mailSubject(text) ?? '');
}

async function loadPatchFile(path: string, strip?: number): Promise<Patch[]> {
  const text = await readText(path);
  if (!hasDiff(text)) {
    throw new FaultlineError('usage', `${path} holds no diff`, { where: path, hint: 'a patch file needs at least one diff hunk (git format-patch or diff -u output)' });
  }
  return splitMessages(text, path).map((p) => (strip === undefined ? p : { ...p, strip }));
}

interface SeriesEntry {
  name: string;
  line: number;
  strip: number | undefined;
}

/** Entries of a quilt series file, or null when the text does not look like one. */
function quiltSeries(text: string, path: string): SeriesEntry[] | null {
  const entries: SeriesEntry[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    const [name, ...options] = line.split(/\s+/);
    if (!name || name.includes('\0')) return null;
    let strip: number | undefined;
    for (const option of options) {
      const p = /^-p(\d+)$/.exec(option);
      if (!p) {
        // `-R` and other quilt options have no git apply equivalent we want to guess at
        if (/^-/.test(option)) {
          throw new FaultlineError('usage', `quilt series option ${option} is not supported`, {
            where: `${path}:${i + 1}`,
            hint: 'only -pN is understood; remove the option or reverse the patch file itself',
          });
        }
        return null;
      }
      strip = Number(p[1]);
    }
    entries.push({ name, line: i + 1, strip });
  }
  if (entries.length === 0) return basename(path) === 'series' ? [] : null;
  return entries;
}

async function loadQuiltSeries(entries: SeriesEntry[], seriesPath: string): Promise<Patch[]> {
  if (entries.length === 0) {
    throw new FaultlineError('usage', `quilt series ${seriesPath} lists no patches`, { where: seriesPath, hint: 'add one patch file name per line' });
  }
  const dir = dirname(seriesPath);
  const out: Patch[] = [];
  for (const entry of entries) {
    const file = join(dir, entry.name);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      throw new FaultlineError('usage', `quilt series names ${entry.name}, which does not exist in ${dir}`, {
        where: `${seriesPath}:${entry.line}`,
        hint: 'series entries are file names relative to the directory of the series file',
      });
    }
    const patches = await loadPatchFile(file, entry.strip);
    // a quilt patch is named as the series names it, so reports match what the user wrote
    out.push(...patches.map((p) => (patches.length === 1 ? { ...p, name: entry.name } : p)));
  }
  return out;
}

async function readText(path: string): Promise<string> {
  const bytes = await readFile(path);
  if (bytes.includes(0) && !bytes.toString('latin1').includes('GIT binary patch')) {
    throw new FaultlineError('usage', `${path} is a binary file, not a patch`, { where: path, hint: inputHint });
  }
  return bytes.toString('utf8');
}

// A diff is a `diff --git` header (renames and mode changes have no hunks) or a ---/+++ pair
// followed by a hunk header.
export function hasDiff(text: string): boolean {
  return /^diff --git /m.test(text) || /^--- \S.*\n\+\+\+ \S.*\n@@ -\d/m.test(text);
}

/** The "From " line that starts each message of an mbox (asctime date at the end). */
const mboxFrom = /^From \S+ +\w{3} \w{3} [ \d]?\d \d\d:\d\d:\d\d \d{4}\s*$/;

// An mbox is split on its "From " lines; a message without a diff (the cover letter, a reply)
// is skipped. A file that is one message (or no mail at all) keeps the file's name.
export function splitMessages(text: string, origin: string): Patch[] {
  const lines = text.split('\n');
  const starts = lines.flatMap((line, i) => (mboxFrom.test(line) ? [i] : []));
  if (starts.length <= 1) {
    return [{ name: basename(origin), origin, text }];
  }
  const messages: string[] = [];
  if (starts[0]! > 0 && hasDiff(lines.slice(0, starts[0]).join('\n'))) messages.push(lines.slice(0, starts[0]).join('\n'));
  for (const [k, start] of starts.entries()) {
    const end = starts[k + 1] ?? lines.length;
    messages.push(lines.slice(start, end).join('\n') + (end === lines.length ? '' : '\n'));
  }
  return messages.filter(hasDiff).map((message) => ({
    name: mailSubject(message) ?? basename(origin),
    origin,
    text: message.replace(/^>(>*From )/gm, '$1'),
  }));
}

/** The decoded Subject header of one message, unfolded; null when it has none. */
export function mailSubject(message: string): string | null {
  const head = message.split(/\n\n/, 1)[0] ?? '';
  const match = /^Subject:[ \t]*(.*(?:\n[ \t]+.*)*)/im.exec(head);
  if (!match) return null;
  const subject = decodeEncodedWords(match[1]!.replace(/\n[ \t]+/g, ' ')).trim();
  return subject === '' ? null : subject;
}

// RFC 2047 encoded words, which git format-patch uses for non-ASCII subjects.
function decodeEncodedWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_all, charset: string, encoding: string, data: string) => {
      const bytes =
        encoding.toLowerCase() === 'b'
          ? Buffer.from(data, 'base64')
          : Buffer.from(
              data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              'latin1',
            );
      return /^utf-?8$/i.test(charset) ? bytes.toString('utf8') : bytes.toString('latin1');
    });
}
