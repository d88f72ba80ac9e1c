import { defaultKernelSpec } from '../../kernels/default.js';
import { formatKernelSpec, parseKernelSpec } from '../../kernels/spec.js';
import { usableCacheDir } from '../core/paths.js';
import { kselftestRunOf, kselftestSuite } from '../sources/kselftest/source.js';
import { parseKselftestRunner } from '../sources/kselftest/runner-choice.js';
import { vmtestsRunOf } from '../sources/kselftest/vmtests.js';
import { caseSources, loadRunCases } from '../suites.js';
import { hugepagesNeeded } from '../suite/compile.js';
import type { SuiteCase } from '../suite/model.js';
import { resolveFeature } from '../suite/vocabulary.js';

// `faultline list`: every case with what it needs from the kernel and the machine, so a user
// can tell in advance why a case will skip.
export async function listCommand(flags: { suite: string[]; kernel?: string; selftestsFrom?: string; kselftestRunner?: string }): Promise<number> {
  const runner = parseKselftestRunner(flags.kselftestRunner);
  const kernels = caseSources(flags.suite).kselftest ? [parseKernelSpec(flags.kernel ?? (await defaultKernelSpec()))] : [];
  const { suites, kselftest } = await loadRunCases(flags.suite, [], { kernels, from: flags.selftestsFrom ?? null, cacheDir: usableCacheDir() });
  for (const suite of suites) {
    process.stdout.write(`${suite.name} (${suite.cases.length} case${suite.cases.length === 1 ? '' : 's'})${suite.description ? `: ${suite.description}` : ''}\n`);
    if (suite.console.splats === 'report') process.stdout.write('  console: kernel reports are recorded, never failing a case\n');
    for (const rule of suite.console.allow) process.stdout.write(`  console: allows /${rule.match.source}/ (${rule.reason})\n`);
    for (const c of suite.cases) {
      const needs = describeNeeds(c);
      process.stdout.write(`  ${c.name}${needs ? `  [${needs}]` : ''}\n`);
      if (c.description) process.stdout.write(`      ${c.description}\n`);
    }
  }
  const plan = kselftest?.[0];
  if (plan) {
    process.stdout.write(`${kselftestSuite} (${plan.cases.length} cases): the userfaultfd selftests of ${plan.info.what} for ${formatKernelSpec(kernels[0]!)}\n`);
    const runOf = runner === 'vmtests' ? vmtestsRunOf : kselftestRunOf;
    for (const c of plan.cases) process.stdout.write(`  ${c.case}  [${runOf(plan.info, c.case)}]\n`);
  }
  return 0;
}

export function describeNeeds(c: SuiteCase): string {
  const features = new Set(c.needs.features);
  for (const step of c.steps) {
    if (step.op !== 'open') continue;
    for (const f of step.args.features) {
      const feature = resolveFeature(f, c.backend);
      if (feature) features.add(feature);
    }
  }
  const parts = [...features].map((f) => `feature ${f}`);
  if (c.needs.kernel) parts.unshift(`kernel >= ${c.needs.kernel}`);
  const huge = hugepagesNeeded(c);
  if (huge) parts.push(`${huge} huge page${huge === 1 ? '' : 's'}`);
  if (c.needs.swap) parts.push('swap');
  return parts.join(', ');
}
