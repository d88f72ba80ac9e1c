import { basename, extname } from 'node:path';
import { defaultConsolePolicy } from '../console/verdict.js';
import { suiteFixHint, type IssueCollector } from '../core/yaml/issues.js';
import { locate } from '../core/yaml/locate.js';
import type { LocatedStep, Suite, SuiteCase } from './model.js';
import { caseSchema, stepSchemas, suiteSchema, type StepOp } from './schema.js';
import { validateCase } from './validate.js';
import { planNameMax, resolveFeature, type Backend } from './vocabulary.js';
import { parseYamlText, readYamlFile, type ParsedYaml, type YamlKind } from '../core/yaml/yaml-file.js';

const defaultTimeoutMs = 10_000;
const stepOps = Object.keys(stepSchemas) as StepOp[];

const suiteFile: YamlKind = {
  noun: 'suite',
  unreadable: 'suite',
  unreadableHint: 'Pass an existing YAML file with --suite, or run `faultline list` to see the shipped suites.',
  fixHint: suiteFixHint,
};

// Reads one suite file and returns it validated, or throws a SuiteError listing every problem
// with file:line:column.
export async function loadSuite(file: string): Promise<Suite> {
  return buildSuite(file, readYamlFile(file, suiteFile));
}

export function parseSuite(file: string, text: string): Suite {
  return buildSuite(file, parseYamlText(file, text, suiteFile));
}

function buildSuite(file: string, { doc, lines, issues, value }: ParsedYaml): Suite {
  const top = issues.check(suiteSchema, value, [], Object.keys(suiteSchema.shape));
  if (!top) return issues.throwIfAny() as never;
  const name = top.suite ?? basename(file, extname(file));
  // The name goes into the plan and the guest's case marks, which take only these characters.
  if (top.suite === undefined && !/^[A-Za-z0-9._-]+$/.test(name)) {
    issues.add([], `the file name gives the suite name "${name}", which may hold only letters, digits, ".", "_" and "-": add a \`suite:\` name`);
  }
  const suiteTimeout = top.timeout ?? defaultTimeoutMs;

  const cases: SuiteCase[] = [];
  const seen = new Map<string, number>();
  top.cases.forEach((raw, index) => {
    const path = ['cases', index];
    const parsed = issues.check(caseSchema, raw, path, Object.keys(caseSchema.shape));
    const rawSteps = (raw as { steps?: unknown } | null)?.steps;
    const steps = Array.isArray(rawSteps) ? parseSteps(issues, rawSteps, [...path, 'steps'], (p) => locate(doc, lines, p).line) : undefined;
    if (!parsed || !steps) return;
    for (const backend of parsed.backends ?? [null]) {
      const caseName = backend ? `${parsed.name}-${backend}` : parsed.name;
      if (backend && caseName.length > planNameMax) {
        issues.add([...path, 'name'], `with its backend the name "${caseName}" has ${caseName.length} characters; a case name may have at most ${planNameMax}`);
        continue;
      }
      const firstIndex = seen.get(caseName);
      if (firstIndex !== undefined) {
        issues.add([...path, 'name'], `duplicate case name "${caseName}" (also cases[${firstIndex}])`);
        continue;
      }
      seen.set(caseName, index);
      const { line, column } = locate(doc, lines, path);
      const suiteCase: SuiteCase = {
        suite: name,
        name: caseName,
        description: parsed.description ?? '',
        backend: mapBackend(steps, backend),
        needs: {
          kernel: parsed.needs?.kernel ?? null,
          hugepages: parsed.needs?.hugepages ?? 0,
          features: (parsed.needs?.features ?? []).flatMap((f) => resolveFeature(f, backend) ?? []),
          swap: parsed.needs?.swap ?? false,
        },
        timeoutMs: parsed.timeout ?? suiteTimeout,
        alone: parsed.alone ?? false,
        steps,
        line,
        column,
      };
      validateCase(suiteCase, (stepIndex, message, key) =>
        issues.add([...path, 'steps', stepIndex, ...(key ? [steps[stepIndex]!.op, key] : [])], backend ? `${message} (backend ${backend})` : message),
      );
      cases.push(suiteCase);
    }
  });
  issues.throwIfAny();
  const consolePolicy = top.console
    ? { splats: top.console.splats, allow: top.console.allow.map((rule) => ({ match: new RegExp(rule.match, 'm'), reason: rule.reason })) }
    : defaultConsolePolicy;
  return { name, file, description: top.description ?? '', console: consolePolicy, cases };
}

function parseSteps(
  issues: IssueCollector,
  raw: unknown[],
  path: (string | number)[],
  lineOf: (path: (string | number)[]) => number,
): LocatedStep[] | undefined {
  const before = issues.issues.length;
  const steps: LocatedStep[] = [];
  raw.forEach((entry, index) => {
    const at = [...path, index];
    const keys = entry && typeof entry === 'object' && !Array.isArray(entry) ? Object.keys(entry) : [];
    if (keys.length !== 1) {
      issues.add(at, `a step is a mapping with exactly one key, the step name (one of ${stepOps.join(', ')})`);
      return;
    }
    const op = keys[0] as StepOp;
    if (!stepOps.includes(op)) {
      issues.add([...at, op], `unknown step "${op}" (one of ${stepOps.join(', ')})`, true);
      return;
    }
    const schema = stepSchemas[op];
    const shape = 'shape' in schema ? Object.keys(schema.shape) : undefined;
    const args = issues.check(schema, (entry as Record<string, unknown>)[op], [...at, op], shape);
    if (args !== undefined) steps.push({ op, args, path: at, line: lineOf(at) } as LocatedStep);
  });
  return issues.issues.length === before ? steps : undefined;
}

function mapBackend(steps: LocatedStep[], variant: Backend | null): Backend | null {
  const map = steps.find((s) => s.op === 'map');
  return (map?.op === 'map' ? map.args.backend : undefined) ?? variant;
}
