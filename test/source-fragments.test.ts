import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { mergedText, notInKernelNotes, parseFragment, resolveFragment, settingOrigin } from '../kernels/source/fragment.js';
import { kconfigSymbols, symbolsAfterSeries, treeKconfigSymbols } from '../kernels/source/kconfig-symbols.js';
import { settingsOf } from '../kernels/source/build.js';
import { shippedFragment } from '../kernels/resolve.js';
import { cacheDir } from '../runner/core/paths.js';
import { rejectsExactly } from './fixtures/errors.js';
import { linuxSource612, linuxSources, linuxTreeOf } from './fixtures/linux-tree.js';

// Config fragments resolved against a tree's own Kconfig: alternatives for options a newer tree
// renamed, options a tree lacks named and skipped, on small texts and on Debian's 6.1 and 6.12.
const fragment = `# a comment
CONFIG_SMP=y
CONFIG_BASE_FULL=y
# faultline: or
# CONFIG_BASE_SMALL is not set

CONFIG_NO_SUCH_OPTION=y
CONFIG_CMDLINE="console=ttyS0"
`;

t.test('"# faultline: or" joins settings into alternatives; the first the tree defines is merged', async (t) => {
  const parsed = parseFragment('f.config', fragment);
  t.same(parsed.rules.map((r) => r.alternatives.map((s) => [s.option, s.value, s.line])), [
    [['CONFIG_SMP', 'y', 2]],
    [['CONFIG_BASE_FULL', 'y', 3], ['CONFIG_BASE_SMALL', 'n', 5]],
    [['CONFIG_NO_SUCH_OPTION', 'y', 7]],
    [['CONFIG_CMDLINE', 'console=ttyS0', 8]],
  ]);
  const older = resolveFragment(parsed, new Set(['CONFIG_SMP', 'CONFIG_BASE_FULL', 'CONFIG_BASE_SMALL', 'CONFIG_CMDLINE']));
  t.equal(mergedText([older]), 'CONFIG_SMP=y\nCONFIG_BASE_FULL=y\nCONFIG_CMDLINE="console=ttyS0"\n');
  const newer = resolveFragment(parsed, new Set(['CONFIG_SMP', 'CONFIG_BASE_SMALL', 'CONFIG_CMDLINE']));
  t.equal(mergedText([newer]), 'CONFIG_SMP=y\n# CONFIG_BASE_SMALL is not set\nCONFIG_CMDLINE="console=ttyS0"\n');
  t.same(newer.chosen.map((c) => c.setting.line), [5]);
  t.same(notInKernelNotes([newer]), ['"CONFIG_NO_SUCH_OPTION=y" [f.config:7] is not in this kernel: skipped']);
  t.equal(settingOrigin([older, newer], 'CONFIG_SMP'), 'f.config:2', 'the last fragment that merges an option is named for it');
  const neither = resolveFragment(parsed, new Set(['CONFIG_SMP']));
  t.same(notInKernelNotes([neither]), [
    'none of "CONFIG_BASE_FULL=y", "# CONFIG_BASE_SMALL is not set" [f.config:3-5] is in this kernel: skipped',
    '"CONFIG_NO_SUCH_OPTION=y" [f.config:7] is not in this kernel: skipped',
    '"CONFIG_CMDLINE="console=ttyS0"" [f.config:8] is not in this kernel: skipped',
  ]);
});

t.test('a misplaced or unknown directive is a usage error naming the line', async (t) => {
  const hint = 'the one directive is "# faultline: or", on its own line between two settings: the first of them that the tree\'s Kconfig defines is used';
  const parse = (text: string) => (async () => parseFragment('f.config', text))();
  await rejectsExactly(t, parse('CONFIG_A=y\n# faultline: xor\nCONFIG_B=y\n'), { kind: 'usage', message: 'f.config:2: unknown fragment directive "# faultline: xor"', hint });
  await rejectsExactly(t, parse('# faultline: or\nCONFIG_B=y\n'), { kind: 'usage', message: 'f.config:1: "# faultline: or" does not follow a setting', hint });
  await rejectsExactly(t, parse('CONFIG_A=y\n# faultline: or\n'), { kind: 'usage', message: 'f.config:2: "# faultline: or" is not followed by a setting', hint });
  await rejectsExactly(t, parse('CONFIG_A=y\n# faultline: or\n# a comment\nCONFIG_B=y\n'), { kind: 'usage', message: 'f.config:2: "# faultline: or" is not followed by a setting', hint });
  await rejectsExactly(t, parse('CONFIG_A=y\n# faultline: or\n# faultline: or\nCONFIG_B=y\n'), { kind: 'usage', message: 'f.config:3: "# faultline: or" does not follow a setting', hint });
});

t.test('a series that adds or moves a Kconfig option makes it the tree\'s', async (t) => {
  const patch = (text: string) => ({ name: 'p', origin: 'p', text });
  const adds = patch('--- a/mm/Kconfig\n+++ b/mm/Kconfig\n@@ -1,2 +1,5 @@\n config USERFAULTFD\n+\n+config UFFD_NEW_THING\n+\tbool "x"\n--- a/mm/x.c\n+++ b/mm/x.c\n@@ -1 +1 @@\n+config NOT_KCONFIG\n');
  const moves = patch('--- a/init/Kconfig\n+++ b/init/Kconfig\n@@ -1,2 +1,1 @@\n-config BASE_FULL\n--- a/mm/Kconfig\n+++ b/mm/Kconfig\n@@ -1 +1,2 @@\n+menuconfig BASE_FULL\n');
  const removes = patch('--- a/init/Kconfig\n+++ b/init/Kconfig\n@@ -1,2 +1,1 @@\n-config BASE_FULL # gone\n');
  const tree = new Set(['CONFIG_USERFAULTFD', 'CONFIG_BASE_FULL']);
  t.same([...symbolsAfterSeries(tree, [adds])].sort(), ['CONFIG_BASE_FULL', 'CONFIG_UFFD_NEW_THING', 'CONFIG_USERFAULTFD']);
  t.same([...symbolsAfterSeries(tree, [moves])].sort(), ['CONFIG_BASE_FULL', 'CONFIG_USERFAULTFD']);
  t.same([...symbolsAfterSeries(tree, [removes])].sort(), ['CONFIG_USERFAULTFD']);
  t.same([...symbolsAfterSeries(tree, [removes, adds, moves])].sort(), ['CONFIG_BASE_FULL', 'CONFIG_UFFD_NEW_THING', 'CONFIG_USERFAULTFD'], 'patches apply in order');
});

t.test('the build key is what is merged: an option the tree lacks changes nothing', async (t) => {
  const symbols = new Set(['CONFIG_SMP', 'CONFIG_BASE_SMALL', 'CONFIG_CMDLINE']);
  const key = (text: string) => settingsOf(mergedText([resolveFragment(parseFragment('f.config', text), symbols)]));
  t.equal(key(fragment), key('CONFIG_SMP=y\n# CONFIG_BASE_SMALL is not set\nCONFIG_CMDLINE="console=ttyS0"\n'));
  t.not(key(fragment), key('CONFIG_SMP=y\nCONFIG_CMDLINE="console=ttyS0"\n'));
});

for (const source of linuxSources) {
  t.test(`the shipped fragment on Debian's linux-source-${source.version}: every line is an option of the tree`, { skip: source.missing ?? false }, async (t) => {
    const tree = await linuxTreeOf(source, cacheDir());
    const symbols = await kconfigSymbols(tree);
    t.ok(symbols.has('CONFIG_USERFAULTFD') && symbols.has('CONFIG_X86_64'), 'the scan finds the core and x86 options');
    t.notOk(symbols.has('CONFIG_ARM64'), 'other architectures are left out');
    const resolved = resolveFragment(parseFragment(shippedFragment, readFileSync(shippedFragment, 'utf8')), symbols);
    t.same(notInKernelNotes([resolved]), [], 'nothing skipped');
    t.same(resolved.chosen.map((c) => c.setting.text), [source.version === '6.1' ? 'CONFIG_BASE_FULL=y' : '# CONFIG_BASE_SMALL is not set']);
    const cache = mkdtempSync(join(tmpdir(), 'faultline-kconfig-'));
    t.teardown(() => rmSync(cache, { recursive: true, force: true }));
    t.same(await treeKconfigSymbols(tree, 'tree-id', cache), symbols, 'the first call scans');
    t.same(await treeKconfigSymbols(tree, 'tree-id', cache), symbols, 'the second reads what the first kept');
  });
}

const cli = join(import.meta.dirname, '..', 'dist', 'runner', 'cli.js');
const doctor = (args: string[]) => execa('node', [cli, 'doctor', ...args], { reject: false, env: { CI: 'true' } });

for (const source of linuxSources) {
  t.test(`doctor --tree on linux-source-${source.version}: the config resolves and sticks, in seconds, the tree untouched`, { skip: source.missing ?? false }, async (t) => {
    const tree = await linuxTreeOf(source, cacheDir());
    const before = readdirSync(tree).sort();
    const run = await doctor(['--tree', tree]);
    t.equal(run.exitCode, 0, run.stdout + run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    t.match(lines[0], /^ok {7}cache /);
    t.match(lines[1], /^ok {7}kbuild /);
    t.match(lines[2], new RegExp(`^ok {7}config {3}tinyconfig \\+ 1 fragment on ${tree} \\(${source.version.replace('.', '\\.')}\\.\\d+\\): all \\d+ settings stick after olddefconfig \\(\\d+\\.\\d s; `));
    const alternative = source.version === '6.1' ? 'CONFIG_BASE_FULL=y' : '# CONFIG_BASE_SMALL is not set';
    t.match(lines[3], new RegExp(`^note {5}config {3}${shippedFragment}:\\d+: ${alternative} \\(the alternative this tree has\\)$`));
    t.equal(lines[4], 'everything faultline needs is here');
    t.same(readdirSync(tree).sort(), before, 'nothing written into the tree');
  });
}

t.test('doctor --tree names a user fragment\'s missing option, and fails on one that does not stick', { skip: linuxSource612.missing ?? false }, async (t) => {
  const tree = await linuxTreeOf(linuxSource612, cacheDir());
  const dir = mkdtempSync(join(tmpdir(), 'faultline-doctor-tree-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const absent = join(dir, 'absent.config');
  writeFileSync(absent, 'CONFIG_BASE_FULL=y\n');
  const notes = await doctor(['--tree', tree, '--config', absent]);
  t.equal(notes.exitCode, 0, notes.stdout);
  t.match(notes.stdout, `\nnote     config   "CONFIG_BASE_FULL=y" [${absent}:1] is not in this kernel: skipped\n`);
  t.match(notes.stdout, /^ok {7}config {3}tinyconfig \+ 2 fragments on /m);

  const unmet = join(dir, 'unmet.config');
  writeFileSync(unmet, '# a choice tinyconfig leaves off\nCONFIG_DEBUG_INFO=y\n');
  const failed = await doctor(['--tree', tree, '--config', unmet]);
  t.equal(failed.exitCode, 3);
  t.match(failed.stdout, `\nMISSING  config   1 requested config option did not stick: CONFIG_DEBUG_INFO=y is absent from .config (probably an unmet dependency) [${unmet}:2]\n                  fix: enable what they depend on in a fragment, or drop them`);

  const usage = await doctor(['--config', unmet]);
  t.equal(usage.exitCode, 2);
  t.equal(usage.stderr, 'faultline: --config and --base apply to a source tree\n  Add --tree DIR (the kernel source whose config to check).');
});
