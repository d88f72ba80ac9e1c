import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { assertRunValid } from './fixtures/run-schema.js';

// Nothing is written over what the user did not name for it: an output flag that leads onto one of
// a run's own files (of the run being written, or of one read: its document, what faultline wrote
// in its results directory) or onto another output's file is refused through the real CLI with its
// exact paragraph and exit 2, before anything is written; merge copies only a shard's own files
// and never writes into a shard.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'faultline-outputs-')));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const at = (...names: string[]) => join(scratch, ...names);
const faultline = (args: string[]) => execa('node', [cli, ...args], { cwd: scratch, reject: false, env: { CI: 'true' } });
const trivial = join(root, 'bench', 'trivial.yaml');

/** A recorded run, copied out of test/fixtures (which nothing writes into). */
function recorded(name: string, as = name): string {
  cpSync(join(root, 'test', 'fixtures', 'runs', name), at(as), { recursive: true });
  return at(as);
}

/** Every entry under `dir` with its bytes' hash (or a link's target): what "unchanged" compares. */
function snapshot(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  const walk = (path: string) => {
    const stat = lstatSync(path);
    const name = relative(dir, path) || '.';
    if (stat.isSymbolicLink()) entries[name] = `link ${readlinkSync(path)}`;
    else if (stat.isDirectory()) {
      entries[name] = 'directory';
      for (const child of readdirSync(path)) walk(join(path, child));
    } else entries[name] = createHash('sha256').update(readFileSync(path)).digest('hex');
  };
  walk(dir);
  return entries;
}

/** Runs faultline expecting exit 2 with exactly `says`, leaving `inputs` byte for byte and writing none of `unwritten`. */
async function refused(t: Test, args: string[], says: string, inputs: string[], unwritten: string[] = []): Promise<void> {
  const before = inputs.map(snapshot);
  const run = await faultline(args);
  t.equal(run.exitCode, 2, `${args.join(' ')}: exit 2`);
  t.equal(run.stderr, `faultline: ${says}`, `${args.join(' ')}: says exactly`);
  t.equal(run.stdout, '', 'prints nothing else');
  t.same(inputs.map(snapshot), before, 'every input is as it was');
  for (const path of unwritten) t.notOk(existsSync(path), `${relative(scratch, path)} is not written`);
}

const ownFile = (flag: string, path: string, file: string, run: string, role: string) =>
  `${flag} ${path} is ${file} in ${run}, the results directory of ${role}: faultline never writes over a run's own files\n  Give ${flag} another path.`;

t.test('report: an output that is one of the reported run\'s files is refused, and the run is left as it was', async (t) => {
  const run = recorded('clean');
  const role = 'the run being reported';
  await refused(t, ['report', run, '--junit', join(run, 'run.json')], ownFile('--junit', join(run, 'run.json'), 'run.json', run, role), [run]);
  for (const file of ['events.jsonl', 'report.html', 'console.log', 'suites/minor-faults.yaml', 'kernel-0/console.log']) {
    await refused(t, ['report', join(run, 'run.json'), '--html', join(run, file)], ownFile('--html', join(run, file), file, run, role), [run], file.startsWith('kernel-0') ? [join(run, 'kernel-0')] : []);
  }
  await refused(t, ['report', run, '--json', run], `--json ${run} is the results directory of the run being reported\n  Give --json a file path.`, [run]);
  // `..` after a symlink is taken where the link leads, as the kernel takes it.
  mkdirSync(at('links'));
  symlinkSync(join(run, 'suites'), at('links', 'suites'));
  await refused(t, ['report', run, '--junit', 'links/suites/../results.raw'], ownFile('--junit', `links/suites/../results.raw (${run}/results.raw)`, 'results.raw', run, role), [run]);
});

t.test('compare: an output that is, or leads into, a compared run is refused', async (t) => {
  const [baseline, candidate] = [recorded('clean', 'compare-a'), recorded('coin-heads', 'compare-b')];
  await refused(t, ['compare', baseline, candidate, '--json', join(baseline, 'run.json')], ownFile('--json', join(baseline, 'run.json'), 'run.json', baseline, 'the baseline'), [baseline, candidate]);
  await refused(t, ['compare', join(baseline, 'run.json'), join(candidate, 'run.json'), '--json', join(candidate, 'guest-end.json')], ownFile('--json', join(candidate, 'guest-end.json'), 'guest-end.json', candidate, 'the candidate'), [baseline, candidate]);

  symlinkSync(join(candidate, 'run.json'), at('comparison.json'));
  await refused(t, ['compare', baseline, candidate, '--json', 'comparison.json'], ownFile('--json', `comparison.json (${candidate}/run.json)`, 'run.json', candidate, 'the candidate'), [baseline, candidate]);

  linkSync(join(candidate, 'results.raw'), at('hard.json'));
  await refused(t, ['compare', baseline, candidate, '--json', 'hard.json'], `--json hard.json is a hard link to ${candidate}/results.raw, a file of the candidate: faultline never writes over a run's files\n  Give --json another path.`, [baseline, candidate]);

  // A run document under another name stands alone: it is protected, and the folder around it is not a run's.
  mkdirSync(at('downloads'));
  cpSync(join(baseline, 'run.json'), at('downloads', 'baseline.json'));
  await refused(t, ['compare', 'downloads/baseline.json', candidate, '--json', at('downloads', 'baseline.json')], `--json ${at('downloads', 'baseline.json')} is downloads/baseline.json, the run file of the baseline: faultline never writes over a run it reads\n  Give --json another path.`, [at('downloads'), candidate]);
  const beside = await faultline(['compare', 'downloads/baseline.json', candidate, '--json', 'downloads/comparison.json']);
  t.equal(beside.exitCode, 0, beside.stderr);
  t.equal(JSON.parse(readFileSync(at('downloads', 'comparison.json'), 'utf8')).baseline, 'downloads/baseline.json', 'an output beside a standalone run document is written');
});

t.test('two output flags naming one file are refused, however it is spelled', async (t) => {
  const run = recorded('clean', 'shared');
  const says = `--junit out.xml and --html ./out.xml are the same file (${at('out.xml')}): one would overwrite the other\n  Give each output its own file.`;
  await refused(t, ['report', run, '--junit', 'out.xml', '--html', './out.xml'], says, [run], [at('out.xml')]);
  await refused(t, ['report', run, '--json', 'out.xml', '--junit', 'out.xml'], '--json out.xml and --junit out.xml are the same file: one would overwrite the other\n  Give each output its own file.', [run], [at('out.xml')]);
  writeFileSync(at('mine.xml'), 'old\n');
  symlinkSync(at('mine.xml'), at('also-mine.xml'));
  await refused(t, ['run', '--kernel', 'host', '--suite', trivial, '--json', 'mine.xml', '--html', 'also-mine.xml', '--results', at('shared-run')], `--json mine.xml and --html also-mine.xml are the same file (${at('mine.xml')}): one would overwrite the other\n  Give each output its own file.`, [at('mine.xml')], [at('shared-run')]);
});

t.test('run: an output that is one of its own files is refused before the results directory is made', async (t) => {
  const dir = at('own');
  for (const flag of ['--junit', '--html', '--json']) {
    await refused(t, ['run', '--kernel', 'host', '--suite', trivial, '--results', dir, flag, join(dir, 'run.json')], ownFile(flag, join(dir, 'run.json'), 'run.json', dir, 'this run'), [], [dir]);
  }
  await refused(t, ['run', '--kernel', 'host', '--suite', trivial, '--results', dir, '--junit', join(dir, 'report.html')], ownFile('--junit', join(dir, 'report.html'), 'report.html', dir, 'this run'), [], [dir]);
  await refused(t, ['run', '--kernel', 'host', '--suite', trivial, '--results', ''], "--results '' names no directory\n  Give a new or empty directory with --results DIR.", [], [at('results')]);
  await refused(t, ['run', '--kernel', 'host', '--suite', trivial, '--junit', '', '--results', dir], "--junit '' names no file\n  Give a file path, e.g. --junit junit.xml.", [], [dir]);
});

t.test('what the user named for an output is written: a file of theirs, a new name beside a run\'s files, /dev/null', async (t) => {
  const run = recorded('clean', 'named');
  const before = snapshot(run);
  writeFileSync(at('theirs.xml'), 'old\n');
  const report = await faultline(['report', run, '--junit', 'theirs.xml', '--html', '/dev/null', '--json', '/dev/null']);
  t.equal(report.exitCode, 0, report.stderr);
  t.match(readFileSync(at('theirs.xml'), 'utf8'), /^<\?xml /, 'the file the user named is replaced by the JUnit report');
  t.same(snapshot(run), before, 'the run reported is as it was');
  const beside = await faultline(['report', run, '--junit', join(run, 'junit.xml')]);
  t.equal(beside.exitCode, 0, beside.stderr);
  const { 'junit.xml': junit, ...after } = snapshot(run);
  t.match(junit, /^[0-9a-f]{64}$/, 'a new name beside the run\'s files is written');
  t.same(after, before, 'the run\'s own files are as they were');
  // The CI action's layout: JUnit beside the run's own files, and --json a copy of run.json elsewhere.
  const live = await faultline(['run', '--kernel', 'host', '--suite', trivial, '--results', at('live'), '--junit', at('live', 'junit.xml'), '--json', 'live.json']);
  t.equal(live.exitCode, 0, live.stderr);
  t.match(readFileSync(at('live', 'junit.xml'), 'utf8'), /^<\?xml /);
  t.equal(readFileSync(at('live.json'), 'utf8'), readFileSync(at('live', 'run.json'), 'utf8'), '--json of run is the run\'s document, written elsewhere');
});

t.test('merge', async (t) => {
  // Shards on the host kernel, where one takes seconds; each also leaves a --json copy in a
  // downloads folder that holds other things, as CI artifacts do.
  const downloads = at('artifacts');
  mkdirSync(downloads);
  writeFileSync(join(downloads, 'big.bin'), Buffer.alloc(4 << 20));
  writeFileSync(join(downloads, 'console.log'), 'not a shard\'s\n');
  for (const i of [1, 2]) {
    const shard = await faultline(['run', '--kernel', 'host', '--case', 'missing-faults/copy', '--shard', `${i}/2`, '--results', at(`s${i}`), '--json', join(downloads, `shard-${i}.json`)]);
    t.equal(shard.exitCode, 0, shard.stderr);
  }
  const own = readdirSync(at('s1')).sort();
  // Someone else's things beside a shard's files are not the shard's.
  writeFileSync(at('s1', 'notes.txt'), 'mine\n');
  mkdirSync(at('s1', 'scratch'));
  writeFileSync(at('s1', 'scratch', 'big.bin'), Buffer.alloc(1 << 20));
  const shards = [at('s1'), at('s2')];

  t.test('given run.json files, it copies only each shard\'s own files', async (t) => {
    const before = shards.map(snapshot);
    const merged = await faultline(['merge', join(shards[0]!, 'run.json'), join(shards[1]!, 'run.json'), '--results', at('merged')]);
    t.equal(merged.exitCode, 0, merged.stderr);
    t.same(readdirSync(at('merged', 'shard-1')).sort(), own, 'shard-1/ holds what the shard wrote, and nothing else of its folder');
    t.same(readdirSync(at('merged', 'shard-1', 'suites')), ['missing-faults.yaml']);
    t.equal(readFileSync(at('merged', 'shard-2', 'results.raw'), 'utf8'), readFileSync(at('s2', 'results.raw'), 'utf8'));
    t.same(shards.map(snapshot), before, 'the shards are as they were');
    assertRunValid(t, at('merged'));

    const fromCopies = await faultline(['merge', join(downloads, 'shard-1.json'), join(downloads, 'shard-2.json'), '--results', join(downloads, 'merged')]);
    t.equal(fromCopies.exitCode, 0, fromCopies.stderr);
    for (const i of [1, 2]) t.same(readdirSync(join(downloads, 'merged', `shard-${i}`)), ['run.json'], `a run document under another name is the whole of shard ${i}`);
    t.same(readdirSync(downloads).sort(), ['big.bin', 'console.log', 'merged', 'shard-1.json', 'shard-2.json']);
    t.same(readFileSync(join(downloads, 'merged', 'shard-1', 'run.json')), readFileSync(join(downloads, 'shard-1.json')));
  });

  t.test('--results in a shard, or holding one, is refused before anything is written', async (t) => {
    const inside = join(shards[0]!, 'merged');
    await refused(t, ['merge', join(shards[0]!, 'run.json'), join(shards[1]!, 'run.json'), '--results', inside], `--results ${inside} is inside ${shards[0]}, the results directory of shard 1/2: faultline never writes into a run it reads\n  Give --results a new directory outside ${shards[0]}.`, shards, [inside]);
    await refused(t, ['merge', shards[0]!, shards[1]!, '--results', shards[1]!], `--results ${shards[1]} is the results directory of shard 2/2: faultline never writes into a run it reads\n  Give --results a new directory outside ${shards[1]}.`, shards);
    const around = at('around');
    mkdirSync(around);
    for (const i of [1, 2]) cpSync(at(`s${i}`), join(around, `s${i}`), { recursive: true });
    await refused(t, ['merge', join(around, 's1'), join(around, 's2'), '--results', around], `${around}/s1, the results directory of shard 1/2, is inside --results ${around}: faultline never writes into a run it reads\n  Give --results a new directory that does not hold ${around}/s1.`, [around]);
    await refused(t, ['merge', ...shards, '--results', ''], "--results '' names no directory\n  Give a new or empty directory with --results DIR.", shards);
  });

  t.test('shards whose same spec resolved to different kernels are refused, naming both', async (t) => {
    // Shard 2 as another CI runner would have left it: the same `host` spec, another kernel there.
    const other = at('s2-other-runner');
    cpSync(shards[1]!, other, { recursive: true });
    const doc = JSON.parse(readFileSync(join(other, 'run.json'), 'utf8'));
    const [mine] = JSON.parse(readFileSync(join(shards[0]!, 'run.json'), 'utf8')).kernels;
    doc.kernels[0] = { ...doc.kernels[0], id: 'host-0123456789abcdef01234567', release: '6.12.38+deb13-amd64' };
    for (const r of doc.results) r.kernel = doc.kernels[0].id;
    writeFileSync(join(other, 'run.json'), `${JSON.stringify(doc, null, 2)}\n`);
    await refused(
      t,
      ['merge', shards[0]!, other, '--results', at('two-kernels')],
      `${shards[0]} and ${other} ran different kernels for host: host (release ${mine.release}, id ${mine.id}) and host (release 6.12.38+deb13-amd64, id host-0123456789abcdef01234567)\n  Merge shards that ran the same kernels: pin each kernel to one package version or file, so that every shard job resolves it alike (host is whatever each machine runs).`,
      [shards[0]!, other],
      [at('two-kernels')],
    );
  });
});
