import { join } from 'node:path';
import type { RunEvent } from '../events.js';
import { caseKey, type CaseResult, type KernelRecord, type RunModel } from '../model/types.js';
import { caseOutcome, comparisonWords, ktapData, ktapName, ktapNotes, subtestOutcome, type Compared, type Outcome, type Tally } from './ktap-lines.js';

// KTAP v1 (Documentation/dev-tools/ktap.rst) for the kernel's own tools: kunit.py parse, and the
// CI systems that read kselftest. One test per kernel, a subtest per suite, a test per case, and a
// selftest's own parts nested one level more. Written whole when the run ends: a comparison's
// reruns settle whether a result is a regression only then, and the same model then gives the
// same text live and from a saved run (`faultline report --ktap`).
export class KtapReporter {
  constructor(private readonly write: (text: string) => void) {}

  handle(event: RunEvent): void {
    if (event.type === 'run-end') this.write(ktapDocument(event.model));
  }
}

/** A test in the tree: a leaf has an outcome, a parent has children (and, for a case with parts,
 * an outcome of its own for its line). */
interface Node {
  name: string;
  notes: string[];
  outcome?: Outcome;
  children: Node[];
}

export function ktapDocument(model: RunModel): string {
  const kernels = [...model.kernels].sort((a, b) => a.index - b.index).map((k) => kernelNode(model, k)).filter((n): n is Node => n !== null);
  const lines = ['KTAP version 1', `1..${kernels.length}`];
  const totals: Record<Tally, number> = { pass: 0, fail: 0, xfail: 0, skip: 0, error: 0 };
  kernels.forEach((node, i) => render(node, i + 1, 0, lines, totals, null));
  const s = model.summary;
  const known = model.results.filter((r) => r.expected).length;
  const words = [`${s.pass} passed`, `${s.fail} failed`, ...(['skip', 'timeout', 'crash', 'error'] as const).filter((x) => s[x] > 0).map((x) => `${s[x]} ${statusWords[x]}`)];
  lines.push(`# faultline: ${model.results.length} case${model.results.length === 1 ? '' : 's'}: ${words.join(', ')}${known ? ` (${known} of them known)` : ''}`);
  lines.push(`# Totals: pass:${totals.pass} fail:${totals.fail} xfail:${totals.xfail} xpass:0 skip:${totals.skip} error:${totals.error}`);
  return `${lines.join('\n')}\n`;
}

const statusWords = { skip: 'skipped', timeout: 'timed out', crash: 'crashed', error: 'errored' } as const;

/** A parent's line fails when a child's does (ktap.rst: "If one of the subtests fail, ... the
 * parent test should also fail"); a case with parts says its own. */
function render(node: Node, n: number, depth: number, lines: string[], totals: Record<Tally, number>, parent: string | null): boolean {
  const indent = '  '.repeat(depth);
  let ok: boolean;
  let directive: string | null;
  let name = node.name;
  if (node.children.length === 0) {
    // kunit.py takes a result line named as its parent for the parent's own.
    if (name === parent) name = `${name} (itself)`;
    ({ ok, directive } = node.outcome!);
    totals[node.outcome!.tally] += 1;
    for (const note of node.notes) lines.push(...ktapNotes(note).map((l) => `${indent}${l}`));
  } else {
    const inner = `${indent}  `;
    lines.push(`${inner}KTAP version 1`, `${inner}# Subtest: ${node.name}`, `${inner}1..${node.children.length}`);
    const children = node.children.map((child, i) => render(child, i + 1, depth + 1, lines, totals, node.name));
    ok = node.outcome ? node.outcome.ok : children.every(Boolean);
    directive = node.outcome?.directive ?? null;
    for (const note of node.notes) lines.push(...ktapNotes(note).map((l) => `${indent}${l}`));
  }
  lines.push(`${indent}${ok ? 'ok' : 'not ok'} ${n} ${name}${directive ? ` # ${ktapData(directive)}` : ''}`);
  return ok;
}

// A kernel's results by suite, in the order the run planned them; a kernel with none here (a
// shard's other share) is left out.
function kernelNode(model: RunModel, kernel: KernelRecord): Node | null {
  const results = model.results.filter((r) => r.kernel === kernel.id);
  if (results.length === 0) return null;
  const order = new Map(model.matrix.cases.map((c, i) => [caseKey(c), i] as const));
  const position = (r: CaseResult) => order.get(caseKey(r)) ?? order.size + results.indexOf(r);
  const sorted = [...results].sort((a, b) => position(a) - position(b));
  const comparisons = model.comparisons.filter((c) => c.candidate.id === kernel.id);
  const compared = (r: CaseResult): Compared | null => {
    for (const c of comparisons) {
      const entry = c.cases.find((x) => x.suite === r.suite && x.case === r.case);
      if (entry) return { baseline: c.baseline.label, entry, failOn: model.failOn };
    }
    return null;
  };
  const suites = new Map<string, Node>();
  for (const r of sorted) {
    const name = ktapName(r.suite);
    const suite = suites.get(name) ?? { name, notes: [], children: [] };
    suites.set(name, suite);
    suite.children.push(caseNode(r, compared(r), kernel));
  }
  const name = ktapName(kernel.label);
  const notes = [
    `kernel: ${kernel.spec}${kernel.release && kernel.release !== kernel.label ? ` (${kernel.release})` : ''}${kernel.accel ? `, ${kernel.accel}` : ''}`,
    ...(kernel.failure ? [`its cases did not run: ${kernel.failure}`] : []),
    ...model.restarts.filter((x) => x.kernel === kernel.id).map((x) => `fresh guest ${x.guest} for ${x.cases} case${x.cases === 1 ? '' : 's'}: ${x.reason}`),
    ...model.reports.filter((x) => x.kernel === kernel.id).map((x) => `kernel report outside cases: ${x.title}`),
    ...comparisons.map((c) => `against ${c.baseline.label}: ${comparisonWords(c.counts)}`),
  ];
  return { name, notes, children: [...suites.values()] };
}

function caseNode(r: CaseResult, compared: Compared | null, kernel: KernelRecord): Node {
  const outcome = caseOutcome(r, compared);
  if (!outcome.ok || outcome.tally === 'xfail') {
    if (r.excerpt) outcome.notes.push(`console: ${join(kernel.dir, r.excerpt.file)} bytes ${r.excerpt.start}-${r.excerpt.end}`);
  }
  const name = ktapName(r.case);
  const node: Node = { name, notes: outcome.notes, outcome: { ...outcome, notes: [] }, children: [] };
  if (!r.subtests?.length) return node;
  const children: Node[] = r.subtests.map((s) => {
    const part = subtestOutcome(s, r.expected);
    return { name: ktapName(s.name), notes: part.notes, outcome: { ...part, notes: [] }, children: [] };
  });
  // kunit.py counts a case with parts by its parts: a case that fails with no failing part
  // (stopped after its last one, a regression to a skip) gets a part that says so.
  if (!outcome.ok && children.every((c) => c.outcome!.ok)) {
    children.push({ name: 'the case as a whole', notes: outcome.notes, outcome: { ...outcome, notes: [] }, children: [] });
    return { ...node, notes: [], children };
  }
  return { ...node, children };
}
