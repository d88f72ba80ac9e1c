import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { FaultlineError } from '../core/errors.js';
import { pathExists as exists } from '../core/files.js';
import { hashParts } from '../core/hash.js';
import { nativeSourceDir } from '../core/paths.js';
import { rememberedAnswer } from '../core/tool-identity.js';
import { compilerVersion, findTool } from '../core/tools.js';
import { cLocaleEnv } from '../core/env.js';

export interface BuiltHelper {
  path: string;
  hash: string;
  cached: boolean;
  compiler: string;
}

const cflags = ['-static', '-pthread', '-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11'];
const missingLibc = /cannot find -l(c|pthread)\b|crt1\.o: No such file|stdio\.h: No such file/;

// The helper runs inside bare initramfs guests, so it is built static against the UAPI header
// of the kernel under test, and cached by the hash of everything that shapes the binary.
export async function buildHelper(opts: { headersDir: string | null; cacheDir: string; sourceDir?: string; signal?: AbortSignal }): Promise<BuiltHelper> {
  const sourceDir = opts.sourceDir ?? nativeSourceDir;
  const include = opts.headersDir ? ['-I', opts.headersDir] : [];
  const [compiler, header, entries] = await Promise.all([compilerVersion(), uffdHeader(include, opts.signal), readdir(sourceDir)]);
  const files = entries.filter((f) => /\.[ch]$/.test(f)).sort();
  const parts = await Promise.all(files.map(async (f) => [f, await readFile(join(sourceDir, f))] as const));
  const hash = hashParts([...parts.flat(), header, compiler, cflags.join(' ')]);
  const dir = join(opts.cacheDir, 'helpers', hash);
  const path = join(dir, 'faultline-helper');
  if (await exists(path)) return { path, hash, cached: true, compiler };

  await mkdir(join(opts.cacheDir, 'helpers'), { recursive: true });
  const tmp = await mkdtemp(join(opts.cacheDir, 'helpers', `.tmp-${hash}-`));
  try {
    const sources = files.filter((f) => f.endsWith('.c')).map((f) => join(sourceDir, f));
    const result = await gcc([...cflags, ...include, '-o', join(tmp, 'faultline-helper'), ...sources], opts.signal);
    if (result.exitCode !== 0) throw compileError(result.stderr, sourceDir);
    await rename(tmp, dir).catch(async (cause: NodeJS.ErrnoException) => {
      // another build of the same hash won the race; its result is identical
      if (!(await exists(path))) throw cause;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { path, hash, cached: false, compiler };
}

async function gcc(args: string[], signal: AbortSignal | undefined, input?: string) {
  // Its messages are matched below (missing libc, missing header), so they must not be translated.
  const result = await execa('gcc', args, { reject: false, env: cLocaleEnv(), ...(input === undefined ? { stdin: 'ignore' as const } : { input }), ...(signal ? { cancelSignal: signal } : {}) });
  signal?.throwIfAborted();
  if (result.exitCode === undefined) {
    throw new FaultlineError('tool', `cannot run gcc: ${result.code ?? result.shortMessage}`, { hint: 'apt-get install gcc libc6-dev', cause: result });
  }
  return result;
}

/** The content of the <linux/userfaultfd.h> the compiler resolves with these include flags. */
async function uffdHeader(include: string[], signal: AbortSignal | undefined): Promise<Buffer> {
  const resolve = async (): Promise<string> => {
    const deps = await gcc(['-M', ...include, '-x', 'c', '-'], signal, '#include <linux/userfaultfd.h>\n');
    const file = deps.stdout.split(/[\s\\]+/).find((p) => p.endsWith('/linux/userfaultfd.h'));
    if (deps.exitCode !== 0 || !file) {
      throw new FaultlineError('tool', 'gcc cannot find <linux/userfaultfd.h>', {
        where: include[1],
        hint: include.length ? 'Point headersDir at a `make headers_install` tree (it holds linux/userfaultfd.h).' : 'apt-get install gcc libc6-dev',
      });
    }
    return file;
  };
  // Where gcc finds the header depends on gcc and the flags, so it is remembered for that gcc
  // binary; the answer is dropped when that file went away or an -I directory gained one.
  const compiler = await findTool('gcc');
  const question = `gcc -M ${include.join(' ')} <linux/userfaultfd.h>`;
  const stillTrue = async (file: string) => {
    if (!(await exists(file))) return false;
    const dir = include[1];
    // gcc searches -I directories before the system's: one that now holds the header would win
    return !dir || file.startsWith(`${dir}/`) || !(await exists(join(dir, 'linux', 'userfaultfd.h')));
  };
  const file = compiler ? await rememberedAnswer(compiler, question, resolve, { stillTrue }) : await resolve();
  return readFile(file);
}

function compileError(stderr: string, sourceDir: string): FaultlineError {
  if (missingLibc.test(stderr)) {
    return new FaultlineError('tool', `static C library missing: ${stderr.match(missingLibc)?.[0]}`, { hint: 'apt-get install gcc libc6-dev' });
  }
  const first = stderr.split('\n').find((l) => /\berror\b/.test(l)) ?? stderr.trim().split('\n')[0] ?? 'gcc failed';
  return new FaultlineError('build', `the native helper does not compile: ${first}`, {
    where: sourceDir,
    hint: 'If the kernel headers are older than the helper expects, add a fallback definition in suites/native/compat.h.',
  });
}

