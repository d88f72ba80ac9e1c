import { execa } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { readRun } from '../runner/model/document.js';

// The GitHub action a kernel tree copies (.ci/github): its shell steps run here with the
// variables GitHub sets (GITHUB_ACTIONS, a GITHUB_STEP_SUMMARY file, GITHUB_WORKSPACE,
// RUNNER_TEMP) on a small git tree, and its YAML read as GitHub reads it.
const root = join(import.meta.dirname, '..');
const action = join(root, '.ci', 'github');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-action-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));


t.test('the action and the workflow: every step of the action runs a script that is here', async (t) => {
  const spec = parse(readFileSync(join(action, 'action.yml'), 'utf8')) as { runs: { using: string; steps: { run?: string; uses?: string; shell?: string }[] } };
  t.equal(spec.runs.using, 'composite');
  for (const step of spec.runs.steps.filter((s) => s.run)) {
    t.equal(step.shell, 'bash', 'a composite run step names its shell');
    const script = /"\$GITHUB_ACTION_PATH\/([^"]+)"/.exec(step.run!)?.[1];
    t.ok(script && existsSync(join(action, script)), `${step.run} runs a script of the action`);
  }
  t.ok(spec.runs.steps.some((s) => s.uses?.startsWith('actions/upload-artifact@')), 'the results are uploaded');
  const workflow = parse(readFileSync(join(action, 'kernel-tree-workflow.yml'), 'utf8')) as { jobs: Record<string, { steps: { uses?: string; with?: Record<string, unknown> }[] }> };
  const steps = Object.values(workflow.jobs)[0]!.steps;
  t.match(steps[0], { uses: /^actions\/checkout@/, with: { 'fetch-depth': 0 } }, 'the series\' base is in the clone');
  t.ok(steps.some((s) => s.uses === './faultline/.ci/github'));
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
  const model = readRun(results);
  t.same(model.command.slice(1, 9), ['run', '--tree', tree, '--patches', `${base}..HEAD`, '--baseline', '--junit', join(results, 'junit.xml')]);
  t.same(model.matrix.kernels.map((k) => k.role), ['baseline', 'candidate']);
  t.match(run.stdout, /^::error file=bench\/trivial\.yaml,line=4,title=error%3A trivial\/open-uffd on .*::no result: make tinyconfig failed/m, 'the failure is annotated at its case');
  t.match(readFileSync(summary, 'utf8'), /^### ❌ faultline: exit 3: make tinyconfig failed[^\n]* \(0 passed, 0 failed, 0 skipped, \d+ errored\)\n/, 'the step summary has the verdict and why');
  const junit = JSON.parse((await execa('/usr/bin/python3', [join(root, 'test', 'fixtures', 'junit-read.py'), join(results, 'junit.xml')])).stdout) as { errors: number; suites: { cases: { name: string; results: { kind: string; message: string }[] }[] }[] };
  const junitCases = junit.suites.flatMap((s) => s.cases);
  t.equal(junitCases.length, 2, 'JUnit beside the results: the case on both kernels');
  t.same(junitCases.map((c) => c.results.map((r) => r.kind)), [['Error'], ['Error']], 'each an error, not a failure of the case');
  for (const c of junitCases) t.match(c.results[0]!.message, /^no result: make tinyconfig failed/);
  t.match(readFileSync(join(results, 'report.html'), 'utf8'), /make tinyconfig failed/, 'and the HTML report says why');
});
