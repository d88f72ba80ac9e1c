import { SuiteError, type SuiteIssue } from '../core/yaml/issues.js';
import type { LocatedStep, Suite, SuiteCase } from './model.js';
import { formatDuration } from './schema.js';
import { planTimeoutMaxMs, resolveFeature } from './vocabulary.js';

/** The helper's default waits for `join ... expect=done|sigbus` and `event` (PLAN-FORMAT.md). */
const helperDefaultWaitMs = 2000;
/** How long the helper lets a `check` of `reg` read before calling it blocked. */
const helperCheckWaitMs = 1000;

export interface CompileOptions {
  /** Multiplies the limits that fail a case when exceeded (the case timeout, waits for a thread
   * to finish or an event to arrive); observation windows (`blocked`, `no_event`) stay as written. */
  timeoutScale?: number;
  /** Cases the helper may run at once (PLAN-FORMAT.md, "Cases side by side"); 1 (the default)
   * writes no `workers` line, so the plan of a serial run is what it always was. */
  workers?: number;
}

// Turns validated suites into the plan text the native helper executes
// (suites/native/PLAN-FORMAT.md). Pure: the same suites always give the same plan.
export function compileSuites(suites: readonly Suite[], opts: CompileOptions = {}): string {
  const timeoutScale = opts.timeoutScale ?? 1;
  const out = ['plan 1', ...workersLine(opts.workers ?? 1)];
  for (const suite of suites) {
    if (suite.cases.length === 0) continue;
    out.push(`suite ${suite.name}`);
    const sideBySide = (opts.workers ?? 1) > 1;
    // Side by side, a suite's `alone` cases go first: each would otherwise wait for the cases
    // running before it to end, with nothing else started meanwhile.
    const cases = sideBySide ? [...suite.cases.filter(runsAlone), ...suite.cases.filter((c) => !runsAlone(c))] : suite.cases;
    for (const c of cases) out.push(...compileCase(c, timeoutScale, sideBySide));
  }
  return `${out.join('\n')}\n`;
}

// A limit the helper accepts as written can grow past its range once scaled for a slow guest
// (16m x4 under TCG); the case is named at its line, with the two ways out.
export function checkScaledLimits(suites: readonly Suite[], timeoutScale: number, why: string): void {
  if (timeoutScale === 1) return;
  const issues: SuiteIssue[] = suites.flatMap((suite) =>
    suite.cases
      .filter((c) => c.timeoutMs * timeoutScale > planTimeoutMaxMs)
      .map((c) => ({
        file: suite.file,
        line: c.line,
        column: c.column,
        path: c.name,
        message: `its ${formatDuration(c.timeoutMs)} time limit becomes ${formatDuration(c.timeoutMs * timeoutScale)} ${why} (x${timeoutScale}, --tcg-slowdown), past the ${formatDuration(planTimeoutMaxMs)} a case may take`,
      })),
  );
  if (issues.length === 0) return;
  const lines = issues.map((i) => `  ${i.file}:${i.line}:${i.column}: ${i.path}: ${i.message}`);
  throw new SuiteError(`${issues.length === 1 ? 'a case' : `${issues.length} cases`} would run past the ${formatDuration(planTimeoutMaxMs)} a case may take ${why}:\n${lines.join('\n')}`, issues, `Lower the case's timeout to at most ${formatDuration(Math.floor(planTimeoutMaxMs / timeoutScale / 1000) * 1000)}, or the factor with --tcg-slowdown.`);
}

/** The plan's `workers` line: written only when cases run side by side. */
export function workersLine(workers: number): string[] {
  return workers > 1 ? [`workers ${workers}`] : [];
}

// Cases that touch what every process in the guest shares must run with no other case beside
// them, whatever their YAML says: swap (another case's pages would be swapped out beside it),
// a transparent-huge-page map (khugepaged works on every process's memory and its collapse can
// retract another case's PTEs), and MADV_PAGEOUT (it reclaims through the shared LRU, and the
// free memory another case's timing sees). Huge-page counts are shared too, but the helper
// already never starts a case whose huge pages do not fit beside the running ones.
export function runsAlone(c: SuiteCase): boolean {
  return c.alone || c.needs.swap || c.steps.some((s) => (s.op === 'map' && s.args.thp) || (s.op === 'madvise' && s.args.advice === 'PAGEOUT'));
}

/** Free 2 MiB pages the case needs: what its own needs say, or what its mapping takes. */
export function hugepagesNeeded(c: SuiteCase): number {
  const map = c.steps.find((s) => s.op === 'map');
  const mapped = map?.op === 'map' && c.backend === 'hugetlb' ? map.args.pages * (shareOf(map.args.share, c) === 'private' ? 2 : 1) : 0;
  return Math.max(mapped, c.needs.hugepages);
}

/** `sideBySide`: the plan runs cases at once, so a case that must not marks itself `alone`. */
function compileCase(c: SuiteCase, timeoutScale: number, sideBySide: boolean): string[] {
  const lines = [`case ${c.name}`, `timeout_ms ${Math.round(c.timeoutMs * timeoutScale)}`, ...(sideBySide && runsAlone(c) ? ['alone'] : [])];
  if (c.needs.kernel) lines.push(`needs kernel=${c.needs.kernel}`);
  const hugepages = hugepagesNeeded(c);
  if (hugepages > 0) lines.push(`needs hugepages=${hugepages}`);
  for (const feature of c.needs.features) lines.push(`needs feature=${feature}`);
  if (c.needs.swap) lines.push('needs swap=1');
  for (const step of c.steps) lines.push(statement(step, c, timeoutScale));
  lines.push('end');
  return lines;
}

type Value = string | number | boolean | undefined;

function statement(step: LocatedStep, c: SuiteCase, timeoutScale: number): string {
  const keys = stepKeys(step, c, timeoutScale);
  const parts = Object.entries(keys).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${typeof v === 'boolean' ? Number(v) : v}`]));
  return [step.op, ...parts, `line=${step.line}`].join(' ');
}

const flags = (names: readonly (string | number)[] | undefined): string | undefined =>
  names === undefined ? undefined : names.length ? names.map((n) => (typeof n === 'number' ? `0x${n.toString(16)}` : n)).join('|') : '0';
const expectKeys = (expect: { errno?: string | undefined; result?: string | undefined } | undefined) => ({ expect_errno: expect?.errno, result: expect?.result });

/** A limit scaled for a slow guest; left out (the helper's default) when nothing changes. */
function limitMs(value: number | undefined, timeoutScale: number): number | undefined {
  if (timeoutScale === 1) return value;
  return Math.round((value ?? helperDefaultWaitMs) * timeoutScale);
}

function stepKeys(step: LocatedStep, c: SuiteCase, timeoutScale: number): Record<string, Value> {
  switch (step.op) {
    case 'open': {
      const features = step.args.features.flatMap((f) => resolveFeature(f, c.backend) ?? []);
      return { features: flags([...new Set(features)]), ...expectKeys(step.args.expect) };
    }
    case 'map':
      return { backend: step.args.backend ?? c.backend ?? undefined, share: shareOf(step.args.share, c), pages: step.args.pages, alias: step.args.alias, ...(step.args.thp ? { thp: true } : {}) };
    case 'register':
      return { page: step.args.page, count: step.args.count ?? rest(c, step.args.page), modes: flags(step.args.modes), ...expectKeys(step.args.expect) };
    case 'unregister':
      return { page: step.args.page, count: step.args.count ?? rest(c, step.args.page), ...expectKeys(step.args.expect) };
    case 'require_ioctl':
      return { name: step.args };
    case 'require_thp':
      return { target: step.args };
    case 'join':
      return {
        thread: step.args.thread,
        child: step.args.child,
        expect: step.args.expect,
        wait_ms: step.args.expect === 'blocked' ? step.args.wait : limitMs(step.args.wait, timeoutScale),
        value: step.args.value,
      };
    case 'event':
      return { type: step.args.type, flags: flags(step.args.flags), page: step.args.page, count: step.args.count, wait_ms: limitMs(step.args.wait, timeoutScale), uffd: step.args.uffd, child: step.args.child, old: step.args.old };
    case 'no_event':
      return { wait_ms: step.args?.wait, uffd: step.args?.uffd };
    case 'fork':
      return { child: step.args.child };
    case 'ioctl': {
      const { mode, expect, ...rest } = step.args;
      return { ...rest, mode: mode.length ? flags(mode) : undefined, ...expectKeys(expect) };
    }
    case 'mremap':
      return { page: step.args.page, count: step.args.count ?? rest(c, step.args.page), fixed: step.args.fixed, thread: step.args.thread, ...expectKeys(step.args.expect) };
    case 'munmap':
    case 'madvise':
    case 'fallocate': {
      const { expect, ...rest } = step.args;
      return { ...rest, ...expectKeys(expect) };
    }
    case 'pagemap':
      return {
        target: step.args.target,
        page: step.args.page,
        count: (step.args.present ?? step.args.wp ?? []).length,
        present: step.args.present?.map((p) => Number(p)).join(''),
        wp: step.args.wp?.map((p) => Number(p)).join(''),
        child: step.args.child,
      };
    case 'sleep':
      return { ms: step.args };
    case 'check':
      // Reading `reg` waits for the read to finish; a slow guest gets the same scaled wait.
      return { ...step.args, wait_ms: timeoutScale === 1 ? undefined : Math.round(helperCheckWaitMs * timeoutScale) };
    case 'fill':
    case 'access':
      return { ...step.args };
  }
}

/** Shared anonymous memory is shmem underneath, so anon defaults to private. */
function shareOf(share: 'shared' | 'private' | undefined, c: SuiteCase): 'shared' | 'private' {
  return share ?? (c.backend === 'anon' ? 'private' : 'shared');
}

function rest(c: SuiteCase, page: number): number {
  const map = c.steps.find((s) => s.op === 'map');
  return map?.op === 'map' ? Math.max(map.args.pages - page, 1) : 1;
}
