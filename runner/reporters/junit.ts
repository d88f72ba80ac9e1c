import { create, fragment } from 'xmlbuilder2';
import { junitElement } from '../model/status.js';
import type { ComparisonClass, RunModel } from '../model/types.js';
import { caseViews, reportsText, subtestsText, type CaseConsoles, type CaseView } from './case-view.js';

// JUnit XML for Jenkins, GitLab and the GitHub test-report actions: a testsuite per (kernel,
// suite), a testcase per case, with its time, and for what did not pass the reason, the kernel
// reports and the console lines. A comparison class that fails the run (a regression, a skip
// included) is a <failure> of that type, so the CI page marks what failed the run; a failure an
// expectation knows is skipped, saying so: it must not fail the job. The classname is the
// kernel's role or place, never its release, so CI history survives an ABI bump of the kernel
// under test. It validates against the Jenkins xunit plugin's junit-10.xsd, the strictest reader
// (test/fixtures/schemas/): that schema has no place on a testcase for where the case is written
// or its comparison class, so those lead the text of its result, or its system-out.
export function junitXml(model: RunModel, consoles: CaseConsoles | null): string {
  const views = caseViews(model, consoles);
  /** The comparison class this case fails the run by, if it does. */
  const failingClass = (view: CaseView) => (view.comparison !== null && model.failOn.includes(view.comparison) ? view.comparison : null);
  const elementOf = (view: CaseView) => junitElementOf(view, failingClass(view));
  const classname = (view: CaseView) => {
    const place = view.kernel?.role ?? (model.matrix.kernels.length > 1 ? `kernel-${view.kernel?.index ?? 0}` : null);
    return place ? `${place}.${view.result.suite}` : view.result.suite;
  };
  const groups = new Map<string, CaseView[]>();
  for (const view of views) {
    const key = `${view.result.kernel}\0${view.result.suite}`;
    const group = groups.get(key);
    if (group) group.push(view);
    else groups.set(key, [view]);
  }
  const count = (list: CaseView[]) => ({
    tests: list.length,
    failures: list.filter((v) => elementOf(v) === 'failure').length,
    errors: list.filter((v) => elementOf(v) === 'error').length,
    skipped: list.filter((v) => elementOf(v) === 'skipped').length,
    time: seconds(list.reduce((ms, v) => ms + v.result.durationMs, 0)),
  });
  // Kernel text carries bytes XML 1.0 cannot hold (escape sequences, backspaces from a serial console).
  const builder = { invalidCharReplacement: '\uFFFD' };
  const doc = create({ version: '1.0', encoding: 'UTF-8', ...builder });
  // The schema allows no skipped count on <testsuites>: readers sum the suites'.
  const { tests, failures, errors, time } = count(views);
  const root = doc.ele('testsuites', { name: 'faultline', tests, failures, errors, time });
  if (groups.size === 0) return doc.end({ prettyPrint: true });
  // Each testsuite is built and written out on its own, then put in its place: the tree of a
  // whole large run (10,000 testcases) held at once cost more memory than the rest of the run.
  const placeholder = 'testsuites';
  root.com(placeholder);
  const suites: string[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    const suite = fragment(builder).ele('testsuite', { name: `${first.label} ${first.result.suite}`, ...count(list), timestamp: model.startedAt.replace(/\.\d+Z$/, '') });
    const props = suite.ele('properties');
    const property = (name: string, value: string | number | null | undefined) => {
      if (value !== null && value !== undefined) props.ele('property', { name, value: String(value) });
    };
    property('kernel', first.label);
    property('kernel.id', first.result.kernel);
    property('kernel.release', first.kernel?.release);
    property('kernel.spec', first.kernel?.spec);
    property('accel', first.kernel?.accel);
    property('timeoutScale', first.kernel?.timeoutScale);
    for (const view of list) testcase(suite, view, elementOf(view), classname(view), failingClass(view));
    suites.push(suite.end({ prettyPrint: true, offset: 1 }));
  }
  const [before, after] = doc.end({ prettyPrint: true }).split(`  <!--${placeholder}-->\n`) as [string, string];
  return `${before}${suites.join('\n')}\n${after}`;
}

type Element = ReturnType<ReturnType<typeof create>['ele']>;

function testcase(parent: Element, view: CaseView, element: 'failure' | 'error' | 'skipped' | null, classname: string, failingClass: ComparisonClass | null): void {
  const r = view.result;
  const tc = parent.ele('testcase', { classname, name: r.case, time: seconds(r.durationMs) });
  const add = (name: string, attrs: Record<string, string>, text: string) => {
    const e = tc.ele(name, attrs);
    if (text) e.txt(text);
  };
  const subtests = subtestsText(r) && `subtests:\n${subtestsText(r)}`;
  const about = aboutText(view);
  const detail = [about, r.reason ?? '', subtests, reportsText(r), view.console ? `console:\n${view.console}` : ''].filter(Boolean).join('\n\n');
  // A skip's reason is its message; its text keeps what a failure's would begin with.
  const brief = [about, subtests].filter(Boolean).join('\n\n');
  if (r.expected) add('skipped', { message: `known ${r.status}: ${r.expected.reason} (${r.expected.entry}); ${r.reason ?? ''}` }, brief);
  else if (element === 'skipped') add('skipped', { message: r.reason ?? 'skipped' }, brief);
  else if (failingClass) add('failure', { message: `${failingClass} (${r.status})${r.reason ? `: ${r.reason}` : ''}`, type: failingClass }, detail);
  else if (element === 'failure') add('failure', { message: r.reason ?? 'failed', type: r.status }, detail);
  else if (element === 'error') add('error', { message: r.reason ?? r.status, type: r.status }, detail);
  else if (brief) add('system-out', {}, brief);
}

/** Where the case is written, the step it failed in, its comparison class: a `key: value` line
 * each, for a person to read and a script to find. */
function aboutText(view: CaseView): string {
  const place = (line: number | null | undefined) => (view.file ? (line ? `${view.file}:${line}` : view.file) : line ? `line ${line}` : '');
  return [
    place(view.line) && `case: ${place(view.line)}`,
    view.result.stepLine ? `step: ${place(view.result.stepLine)}` : '',
    view.comparison ? `comparison: ${view.comparison}` : '',
  ].filter(Boolean).join('\n');
}

/** A failure an expectation accepts is filed as skipped: it must not fail the job. A comparison
 * class that fails the run is a failure, whatever the status (a pass that became a skip). */
function junitElementOf(view: CaseView, failingClass: ComparisonClass | null): 'failure' | 'error' | 'skipped' | null {
  if (view.result.expected) return 'skipped';
  if (failingClass) return 'failure';
  return junitElement(view.result.status);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
