import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { requireTool } from '../runner/core/tools.js';

// Each start of faultline is a new process, so each question is asked from a fresh node process
// (an in-process memo would hide the cache); the programs are wrappers on PATH that log each call.
const dist = join(import.meta.dirname, '..', 'dist', 'runner');
const url = (file: string) => pathToFileURL(join(dist, file)).href;

function wrapper(dir: string, name: string, real: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "$*" >> "${dir}/calls.log"\nexec "${real}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}
const calls = (dir: string) => readFileSync(join(dir, 'calls.log'), 'utf8').split('\n').filter((l) => l !== '');
// A new mtime (an hour back) as a rebuilt or copied-over binary would have.
const touchBack = (path: string) => utimesSync(path, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));

async function start(dir: string, script: string): Promise<string> {
  const r = await execa('node', ['--input-type=module', '-e', script], {
    env: { PATH: `${dir}:${process.env.PATH}`, FAULTLINE_CACHE: join(dir, 'cache') },
    extendEnv: true,
  });
  return r.stdout;
}

t.test('gcc --version and gcc -M are asked once per gcc binary, and again when it changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-tool-id-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gcc = wrapper(dir, 'gcc', await requireTool('gcc', 'gcc'));
  writeFileSync(join(dir, 'calls.log'), '');
  const script = `
    import { compilerVersion } from '${url('core/tools.js')}';
    import { buildHelper } from '${url('helper/build.js')}';
    const helper = await buildHelper({ headersDir: null, cacheDir: ${JSON.stringify(join(dir, 'cache'))} });
    console.log(await compilerVersion(), helper.hash);`;
  // The two questions may be asked concurrently, so their order is not part of the behaviour.
  const questions = () => calls(dir).filter((l) => l === '--version' || l.startsWith('-M ')).sort();

  const first = await start(dir, script);
  t.match(first, /^gcc /);
  t.same(questions(), ['--version', '-M -x c -'], 'the first start asks gcc');
  t.equal(await start(dir, script), first, 'same answers from the cache');
  t.same(questions(), ['--version', '-M -x c -'], 'an unchanged gcc is not asked again');

  touchBack(gcc);
  t.equal(await start(dir, script), first);
  t.same(questions(), ['--version', '--version', '-M -x c -', '-M -x c -'], 'a gcc with a new mtime is asked again');
});

t.test('qemu --version and setpriv --help are asked once per binary, and again for a changed copy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-tool-id-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const realQemu = await requireTool('qemu-system-x86_64', 'qemu-system-x86');
  const qemu = wrapper(dir, 'qemu-system-x86_64', realQemu);
  wrapper(dir, 'setpriv', await requireTool('setpriv', 'util-linux'));
  writeFileSync(join(dir, 'calls.log'), '');
  const script = `
    import { qemuVersion } from '${url('qemu/version.js')}';
    import { pdeathsigWrapper } from '${url('qemu/pdeathsig.js')}';
    console.log(await qemuVersion(), await pdeathsigWrapper());`;

  const first = await start(dir, script);
  t.match(first, /^QEMU emulator version \S+.*\n?.*\/setpriv$/s);
  t.same(calls(dir), ['--version', '--help']);
  t.equal(await start(dir, script), first);
  t.same(calls(dir), ['--version', '--help'], 'nothing asked on the second start');

  // a copy is another binary (another inode), even with the same bytes
  rmSync(qemu);
  wrapper(dir, 'qemu-system-x86_64', realQemu);
  t.equal(await start(dir, script), first);
  t.same(calls(dir), ['--version', '--help', '--version'], 'the replaced qemu is asked again, setpriv is not');
  touchBack(join(dir, 'setpriv'));
  await start(dir, script);
  t.same(calls(dir), ['--version', '--help', '--version', '--help'], 'setpriv with a new mtime is asked again');
});
