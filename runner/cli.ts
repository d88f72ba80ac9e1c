#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { FaultlineError, isFaultlineError } from './core/errors.js';
import { faultlineVersion } from './core/version.js';

// A reader that goes away (`faultline list | head`) is no error: output stops, the work goes on
// and its results still reach the results directory.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

// Subcommands are imported only when chosen, so `faultline --help` starts instantly.
const program = new Command('faultline')
  .description('Run userfaultfd test suites against real Linux kernels in QEMU guests')
  .version(faultlineVersion)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });

const collect = (value: string, previous: string[]) => [...previous, value];

/** The kernel-from-source options `run` and `build` share. */
const withSourceOptions = (command: Command, tree: 'optional' | 'required'): Command =>
  command[tree === 'required' ? 'requiredOption' : 'option']('--tree <dir>', 'a kernel source tree to patch and build (never modified)')
    .option('--patches <series>', 'a patch, mbox, directory of *.patch, quilt series file, or git range (repeatable)', collect, [])
    .option('--config <fragment>', 'a config fragment merged after the shipped one (repeatable)', collect, [])
    .option('--base <config>', 'config base: tinyconfig (default), defconfig, or a .config file')
    .option('--build-image <name>', 'build in a container of this image (network none): debian-build, docker:IMAGE or docker:DIR; a kernel definition\'s build-image wins');

const run = program
  .command('run')
  .description('build, boot and run suites on one kernel or a matrix; results go to results/<stamp>/')
  .option('--suite <file>', 'a suite YAML file, or kselftest:userfaultfd for the kernel\'s own selftests (repeatable; default: every suite in suites/)', collect, [])
  .option('--case <pattern>', 'only cases whose suite/case name contains this (repeatable)', collect, [])
  .option('--kernel <spec>', 'debian:<package> (a * matches every such package), a linux-image-*.deb, a bzImage/vmlinuz path, kernels/NAME.yaml, or host; repeatable (default: the current Debian cloud kernel)', collect, [])
  .option('--yes', 'download every package the debian: globs name, even more than 8')
  .option('--selftests-from <tree>', 'kselftest:userfaultfd from this Linux tree (or linux-source tarball) on every kernel, instead of each kernel\'s own')
  .option('--kselftest-mib <n>', 'MiB each selftest stress run uses (default: run_vmtests.sh\'s under KVM and on the host, 4 under TCG)')
  .option('--kselftest-bounces <n>', 'bounces each selftest stress run makes (default: run_vmtests.sh\'s under KVM and on the host, 2 under TCG)')
  .option('--kselftest-runner <name>', 'programs: faultline runs each static selftest program (default); vmtests: the tree\'s own run_vmtests.sh (-t userfaultfd) with its programs as the tree links them, on an image with bash (--image debian)');
withSourceOptions(run, 'optional')
  .option('--per-patch', 'build, boot and run after each patch; report which patch changed which case')
  .option('--baseline [spec]', 'compare against a baseline: the tree without its series (no value), or any kernel spec')
  .option('--retries <n>', 'rerun a regression this often on both kernels, in fresh guests, before calling it one (a flip is flaky)', '2')
  .option('--fail-on <classes>', 'comparison classes that fail the run, comma-separated, or none (default: regression)')
  .option('--jobs <n>', 'guests of different kernels at once (default: one per core, at most one per kernel)')
  .option('--shard <i/n>', "run shard i of n of the (kernel, case) jobs; combine shards with faultline merge")
  .option('--expect <file>', 'known failures: YAML entries with case, kernel, status, reason, until, url (repeatable)', collect, [])
  .option('--strict-expect', 'a stale expectation (matched nothing, or its case passed) fails the run')
  .addOption(new Option('--accel <mode>', 'acceleration: auto proves KVM with a probe boot, else TCG').choices(['auto', 'kvm', 'tcg']).default('auto'))
  .addOption(new Option('--machine <machine>', 'QEMU machine: auto boots microvm (faster) unless a guest needs pc (a swap disk, or TCG where the host TSC rate cannot be measured)').choices(['auto', 'microvm', 'pc']).default('auto'))
  .option('--timeout <duration>', 'limit for the whole run, with a unit (30m, 90s, 2h); cases without a result then get timeout')
  .option('--tcg-slowdown <factor>', 'multiply guest time limits by this under TCG (boot, cases, waits)', '4')
  .option('--workers <n>', 'cases a guest runs side by side (default: chosen from the cases, at most 4; 1 runs them one after another, in plan order)')
  .option('--cpus <n>', 'vCPUs of each guest (default 1: under TCG a second one costs more boot time than it gains)')
  .option('--append <words>', 'extra guest kernel command-line words, e.g. "oops=panic" (repeatable)', collect, [])
  .option('--image <name>', 'the guests\' userland: busybox (built in, default), docker:DIR (a Dockerfile), docker:IMAGE (an image the engine has) or a shipped recipe (debian); a kernel definition\'s image wins', 'busybox')
  .option('--tap', 'print TAP 14 on stdout (progress goes to stderr)')
  .option('--ktap', 'print KTAP v1 on stdout when the run ends, as kunit.py parse reads it (progress goes to stderr)')
  .option('--json <file>', 'also write run.json to this file')
  .option('--junit <file>', 'also write JUnit XML to this file')
  .option('--html <file>', 'also write the HTML report (always in the results directory) to this file')
  .option('--github', 'GitHub Actions annotations and step summary (on by itself when GITHUB_ACTIONS=true)')
  .option('--results <dir>', 'results directory, new or empty (default: results/<stamp>)')
  .action(async (options) => {
    const { runCommand } = await import('./commands/run.js');
    process.exitCode = await runCommand(options);
  });

program
  .command('bisect')
  .description('find the first kernel (oldest first) or commit of a tree on which the chosen cases fail; results go to results/bisect-<inputs>/, and the same command continues a stopped bisect')
  .option('--suite <file>', 'a suite YAML file, or kselftest:userfaultfd (repeatable; default: every suite in suites/)', collect, [])
  .option('--case <pattern>', 'only cases whose suite/case name contains this (repeatable)', collect, [])
  .option('--kernel <spec>', 'a kernel to bisect over, as run takes it (a debian: glob names every matching package); repeatable; ordered by release, the oldest is the good end', collect, [])
  .option('--yes', 'download every package the debian: globs name, even more than 8')
  .option('--tree <dir>', 'a git kernel tree to bisect between --good and --bad (built from source, never modified)')
  .option('--good <rev>', 'with --tree: a commit on which the cases pass')
  .option('--bad <rev>', 'with --tree: a later commit on which they fail')
  .option('--config <fragment>', 'with --tree: a config fragment merged after the shipped one (repeatable)', collect, [])
  .option('--base <config>', 'with --tree: config base: tinyconfig (default), defconfig, or a .config file')
  .option('--build-image <name>', 'build in a container of this image (network none): debian-build, docker:IMAGE or docker:DIR')
  .option('--status <statuses>', 'the statuses that make a case bad, comma-separated (default: fail,timeout,crash,error)')
  .option('--retries <n>', 'rerun a step whose verdict flips this often, in fresh guests, before believing it', '1')
  .addOption(new Option('--accel <mode>', 'acceleration: auto proves KVM with a probe boot, else TCG').choices(['auto', 'kvm', 'tcg']).default('auto'))
  .addOption(new Option('--machine <machine>', 'QEMU machine (as run)').choices(['auto', 'microvm', 'pc']).default('auto'))
  .option('--tcg-slowdown <factor>', 'multiply guest time limits by this under TCG (boot, cases, waits)', '4')
  .option('--workers <n>', 'cases a guest runs side by side (as run)')
  .option('--cpus <n>', 'vCPUs of each guest (default 1)')
  .option('--append <words>', 'extra guest kernel command-line words (repeatable)', collect, [])
  .option('--image <name>', 'the guests\' userland (as run)', 'busybox')
  .option('--results <dir>', 'the bisect\'s directory: new, empty, or this same bisect\'s to continue it (default: results/bisect-<hash of the inputs>)')
  .action(async (options) => {
    const { bisectCommand } = await import('./commands/bisect.js');
    process.exitCode = await bisectCommand(options);
  });

program
  .command('compare')
  .description('compare two runs case by case: regressions, fixes, flaky, new and removed cases')
  .argument('<baseline>', 'a results directory or run.json: the baseline')
  .argument('<candidate>', 'a results directory or run.json: the run compared with it')
  .option('--fail-on <classes>', 'classes that make the exit code 1, comma-separated, or none (default: regression)')
  .option('--json <file>', 'write the comparison as JSON to this file')
  .action(async (baseline: string, candidate: string, options) => {
    const { compareCommand } = await import('./commands/compare.js');
    process.exitCode = await compareCommand(baseline, candidate, options);
  });

program
  .command('merge')
  .description('combine the shards of one run (faultline run --shard i/n) into one results directory')
  .argument('<shards...>', 'the shards\' results directories')
  .requiredOption('--results <dir>', 'where the merged run goes (new or empty)')
  .action(async (shards: string[], options) => {
    const { mergeCommand } = await import('./commands/merge.js');
    process.exitCode = await mergeCommand(shards, options);
  });

program
  .command('report')
  .description('render a saved run again: the summary, TAP, and with --reparse run.json from the saved consoles')
  .argument('<results>', 'a results directory')
  .option('--tap', 'print TAP 14 on stdout')
  .option('--ktap', 'print KTAP v1 on stdout, as kunit.py parse reads it')
  .option('--reparse', 'rebuild the results from the saved consoles, result channels and plans instead of reading run.json')
  .option('--json <file>', 'write the run (reparsed or as read) to this file')
  .option('--junit <file>', 'write JUnit XML to this file')
  .option('--html <file>', 'write the HTML report to this file')
  .option('--github', 'GitHub Actions annotations and step summary (on by itself when GITHUB_ACTIONS=true)')
  .action(async (dir: string, options) => {
    const { reportCommand } = await import('./commands/report.js');
    process.exitCode = await reportCommand(dir, options);
  });

withSourceOptions(program.command('build'), 'required')
  .description('build a kernel from source and print the bzImage path')
  .action(async (options) => {
    const { buildCommand } = await import('./commands/build.js');
    process.exitCode = await buildCommand(options);
  });

program
  .command('doctor')
  .description('check QEMU, acceleration, gcc and static libc, busybox, cpio, the cache, kernel build tools and (for --image/--build-image) the Docker engine')
  .option('--tree <dir>', 'check instead what building this kernel tree needs, and whether its config resolves (seconds, no build)')
  .option('--config <fragment>', 'with --tree: a config fragment merged after the shipped one (repeatable)', collect, [])
  .option('--base <config>', 'with --tree: config base: tinyconfig (default), defconfig, or a .config file')
  .option('--image <name>', 'also check what this guest image needs: the Docker engine (DOCKER_HOST), and the image, Dockerfile or recipe')
  .option('--build-image <name>', 'also check the Docker engine and this kernel build image')
  .action(async (options) => {
    const { doctorCommand } = await import('./commands/doctor.js');
    process.exitCode = await doctorCommand(options);
  });

program
  .command('list')
  .description('list suites and their cases, with what each needs')
  .option('--suite <file>', 'a suite YAML file, or kselftest:userfaultfd (repeatable; default: every suite in suites/)', collect, [])
  .option('--kernel <spec>', 'the kernel whose selftests kselftest:userfaultfd lists (default: the current Debian cloud kernel)')
  .option('--selftests-from <tree>', 'list kselftest:userfaultfd from this Linux tree or linux-source tarball')
  .option('--kselftest-runner <name>', 'say what runs each selftest case: programs (faultline, the default) or vmtests (run_vmtests.sh)')
  .action(async (options) => {
    const { listCommand } = await import('./commands/list.js');
    process.exitCode = await listCommand(options);
  });

const image = program.command('image').description('guest and build images in the Docker engine (DOCKER_HOST) from the shipped recipes');
image
  .command('build')
  .description('build a shipped recipe as the image faultline/NAME; prints its name, id and size')
  .argument('<name>', 'busybox, debian (a Debian userland with bash and gcc), debian-build (a kernel build toolchain), or docker:DIR (the Dockerfile in DIR)')
  .option('--rebuild', 'build again even when the engine has the image of this recipe')
  .option('--mirror <url>', 'the Debian mirror for debootstrap (default: FAULTLINE_DEBIAN_MIRROR, else the one apt uses)')
  .action(async (name: string, options) => {
    const { imageBuildCommand } = await import('./commands/image.js');
    process.exitCode = await imageBuildCommand(name, options);
  });
image
  .command('list')
  .description('the shipped recipes and whether the engine has an image of each')
  .action(async () => {
    const { imageListCommand } = await import('./commands/image.js');
    process.exitCode = await imageListCommand();
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return 2;
  }
  if (isFaultlineError(error)) {
    process.stderr.write(`faultline: ${error.describe()}\n`);
    if (process.env.FAULTLINE_DEBUG) process.stderr.write(`${String((error as FaultlineError).stack)}\n`);
    return error.exitCode;
  }
  process.stderr.write(`faultline: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 3;
}
