// The one record of a run: what was planned (kernels x cases), what each kernel was, every
// result keyed by (kernel, case), reruns, restarts, kernel reports, and what was concluded
// (comparison, expectations). run.json is this, serialized; every report, `compare`, `merge`
// and `report` read it, never the engine.
export type CaseStatus = 'pass' | 'fail' | 'skip' | 'timeout' | 'crash' | 'error';
export const caseStatuses: readonly CaseStatus[] = ['pass', 'fail', 'skip', 'timeout', 'crash', 'error'];

export type Accel = 'kvm' | 'tcg';

/** Why a case skipped: its kernel release is too old for it (a gate decided before it runs), the
 * kernel does not offer a feature it needs, or the machine lacks a resource (huge pages, swap,
 * permission to use userfaultfd). Only a feature a kernel stopped offering can be a regression. */
export type SkipCause = 'release' | 'feature' | 'resource';
export const skipCauses: readonly SkipCause[] = ['release', 'feature', 'resource'];

/** What a kernel report is, by its first line (runner/console/kernel-reports.ts tells them apart). */
export const reportKinds = [
  'panic', 'oops', 'bug', 'warning', 'kasan', 'kfence', 'ubsan', 'lockdep',
  'hung-task', 'soft-lockup', 'hard-lockup', 'rcu-stall',
] as const;
export type ReportKind = (typeof reportKinds)[number];

/** A kernel report from the guest console, as the run keeps it. */
export interface KernelReport {
  kind: ReportKind;
  title: string;
  text: string;
  fatal: boolean;
  /** Why it did not fail the case (an allow-list entry's reason), when it did not. */
  allowed?: string;
  /** Allow patterns that were not applied to it because they ran too long. */
  allowSkipped?: string;
}

/** An expectation file's entry that a result matched. */
export interface ExpectedBy {
  reason: string;
  /** file:line of the entry. */
  entry: string;
  url?: string;
  until?: string;
}

/** A stretch of a guest's console log, in bytes: `file` is in the kernel's directory. */
export interface ConsoleExcerpt {
  file: string;
  start: number;
  end: number;
}

/** A part of a case that its program reports on its own (a selftest's "testing events: done."). */
export interface Subtest {
  name: string;
  status: CaseStatus;
  reason: string | null;
}

/** Why the runner gave a case its result, for want of one from the guest (or the helper on the
 * host): the user stopped the run, its --timeout ran out, a stage of its kernel failed (build,
 * boot), the guest stopped answering or died, the helper exited without it, the guest's agent
 * never started, or the run never finished (killed outright: read back, its planned cases
 * without a result are this). */
export type FillCause = 'stopped' | 'time-limit' | 'infrastructure' | 'unresponsive' | 'guest-died' | 'helper-exited' | 'no-agent' | 'unfinished';
export const fillCauses: readonly FillCause[] = ['stopped', 'time-limit', 'infrastructure', 'unresponsive', 'guest-died', 'helper-exited', 'no-agent', 'unfinished'];

export interface CaseResult {
  /** The kernel's id (by content), never its label. */
  kernel: string;
  suite: string;
  case: string;
  status: CaseStatus;
  reason: string | null;
  durationMs: number;
  /** Set when the runner gave this result, the guest having reported none; absent when the guest
   * (or the helper on the host) reported it. */
  filled?: FillCause;
  /** Where its console lines are: from its begin mark to its end mark (or the console's end). */
  excerpt?: ConsoleExcerpt;
  /** For a skip, why, when it is known: see SkipCause. */
  skipCause?: SkipCause;
  /** For a YAML case that did not pass: the suite file line of the step it was in. */
  stepLine?: number;
  /** Kernel reports printed while the case ran; absent when there were none. */
  reports?: KernelReport[];
  /** Set when an expectation accepts this result: it does not fail the run. */
  expected?: ExpectedBy;
  /** The parts its program reported, for a case that runs a program (the kernel's selftests). */
  subtests?: Subtest[];
  /** Why this result is from a run of the case alone, after it ran beside other cases: a kernel
   * report named none of their tasks, or the guest died or hung while they ran. Absent when the
   * result is from its first run. */
  ranAlone?: string;
}

/** A case run again in a fresh guest before it is called a regression. */
export interface Rerun extends CaseResult {
  attempt: number;
}

/** A planned case, identified by `suite/case`. */
export interface PlannedCase {
  suite: string;
  case: string;
  /** Where it is written, for reports that point at it. */
  file?: string;
  line?: number;
}

export type KernelRole = 'baseline' | 'candidate';

/** A kernel of the matrix as asked for, before it is resolved: its spec as written (run.json),
 * or as parsed (`MatrixKernel<KernelSpec>`, what the engine runs). */
export interface MatrixKernel<Spec = string> {
  spec: Spec;
  role: KernelRole | null;
  /** What this column is, when the spec alone does not say (the patch a per-patch column adds). */
  title?: string;
}

/** A kernel that resolved: identified by content, named for people. */
export interface KernelRecord {
  id: string;
  label: string;
  /** Its position in the matrix. */
  index: number;
  spec: string;
  role: KernelRole | null;
  release: string | null;
  /** null: it never resolved (its cases are errors naming why). */
  accel: Accel | 'host' | null;
  /** Guest time limits are multiplied by this (the TCG slowdown factor; 1 under KVM). */
  timeoutScale: number;
  /** Where its files are, inside the results directory ('' for its top). */
  dir: string;
  /** Why its stages stopped before its cases ran (a build or boot failure), when they did. */
  failure?: string;
  /** For a guest kernel: what chose `accel`. Absent for the host and a kernel that never resolved. */
  accelProof?: AccelProof;
  /** For a kernel faultline built from a source tree: what it was built from. */
  tree?: TreeBuild;
  /** For a guest kernel: the userland its guests booted. Absent for the host and in older runs. */
  guestImage?: GuestImageRecord;
  /** For a guest kernel: the most cases its guests ran side by side (1: one after another). */
  workers?: number;
}

/** A guest's userland in run.json: two runs that differ in it say so. */
export interface GuestImageRecord {
  /** As it was named (busybox, docker:DIR, docker:IMAGE, a recipe). */
  name: string;
  /** The engine's image id; null for the built-in busybox image. */
  id: string | null;
  /** The engine image's content key, or the built-in image's hash. */
  contentKey: string;
}

/** What showed KVM works (the probe boot printed the kernel's banner) or why TCG runs instead. */
export interface AccelProof {
  reason: string;
  /** How long the probe boot took (the earlier one, for a cached verdict); 0 when none ran (--accel given, no usable /dev/kvm). */
  probeMs: number;
  /** The verdict of an earlier probe since the host booted, with the same QEMU. */
  cached: boolean;
}

/** A source kernel's build inputs, enough to tell two builds of one tree apart. */
export interface TreeBuild {
  /** The tree's git commit (HEAD, or a commit range's start); null for a tree not in git. The
   * build key covers uncommitted edits, the commit does not. */
  commit: string | null;
  /** sha256 of the merged .config it was built with. */
  configSha256: string;
  /** The build's cache key (tree contents, patches, config, compiler); the kernel's id is source-<key>. */
  buildKey: string;
  /** Where it was compiled: the host's gcc (its version), or a build image (name, engine id, content key). Absent in older runs. */
  buildEnv?: { kind: 'host'; compiler: string } | { kind: 'image'; name: string; id: string; contentKey: string };
}

/** Where the run ran. */
export interface HostFacts {
  /** os.availableParallelism() */
  cpus: number;
  /** QEMU's first `--version` line; null when no guest kernel got as far as booting. */
  qemu: string | null;
}

export interface Restart {
  kernel: string;
  guest: number;
  cases: number;
  reason: string;
}

/** This run's share of the matrix: job j (kernel index, case id) belongs to shard `index` of `count`. */
export interface Shard {
  index: number;
  count: number;
}

export type ComparisonClass = 'regression' | 'fixed' | 'still-failing' | 'new' | 'removed' | 'changed' | 'flaky' | 'unchanged';
export const comparisonClasses: readonly ComparisonClass[] = ['regression', 'flaky', 'fixed', 'still-failing', 'changed', 'new', 'removed', 'unchanged'];

export interface ComparedCase {
  suite: string;
  case: string;
  class: ComparisonClass;
  baseline: { status: CaseStatus; reason: string | null } | null;
  candidate: { status: CaseStatus; reason: string | null } | null;
  /** Kernel reports (titles) the candidate printed and the baseline did not, even when the case passed. */
  newReports: string[];
  /** For a regression candidate rerun in fresh guests: the statuses seen, first run first. */
  attempts?: { baseline: CaseStatus[]; candidate: CaseStatus[] };
}

/** One baseline kernel against one other. */
export interface Comparison {
  baseline: { id: string; label: string };
  candidate: { id: string; label: string };
  counts: Record<ComparisonClass, number>;
  cases: ComparedCase[];
}

/** An expectation file's entry, as loaded. */
export interface ExpectationEntry {
  case: string;
  kernel: string | null;
  status: CaseStatus;
  reason: string;
  until: string | null;
  url: string | null;
  /** file:line */
  at: string;
}

export interface ExpectationOutcome {
  entries: ExpectationEntry[];
  /** Entries past their `until`: they no longer apply. */
  expired: string[];
  /** Entries that matched no result, or whose case passed: they can go. */
  stale: { at: string; why: string }[];
  /** Entries this run could not judge: their cases are in other shards (`merge` judges them), or
   * `--case` left them out. Absent when there were none, and in runs from before it. */
  deferred?: { at: string; why: string }[];
  /** The `--case` patterns that chose the run's cases, when any: a run read again (`--reparse`)
   * judges its entries as the run did. */
  caseFilter?: string[];
  strict: boolean;
}

export interface RunModel {
  /** runSchemaId: the schema this document follows (runner/model/run.schema.json). */
  $schema: string;
  version: 4;
  /** The faultline version that ran it (package.json's); null when read from a run.json before
   * version 4, or merged from shards that differ. */
  faultline: string | null;
  /** The machine it ran on; null when read from a run.json before version 4, or merged from
   * shards that ran on machines that differ. */
  host: HostFacts | null;
  startedAt: string;
  finishedAt: string | null;
  command: string[];
  /** What was asked for: kernels x cases, the same for every shard of one run, and which kernel
   * is compared with which (indexes into `kernels`, baseline first). */
  matrix: { kernels: MatrixKernel[]; cases: PlannedCase[]; pairs: [number, number][] };
  /** Comparison classes that fail the run. */
  failOn: ComparisonClass[];
  shard: Shard | null;
  kernels: KernelRecord[];
  results: CaseResult[];
  reruns: Rerun[];
  /** Fresh guests started after one died or hung, with why. */
  restarts: Restart[];
  /** Splats printed while no case was running (each case's own are in its result). */
  reports: (KernelReport & { kernel: string })[];
  comparisons: Comparison[];
  expectations: ExpectationOutcome | null;
  summary: Record<CaseStatus, number>;
  exitCode: number | null;
  /** Why the run exits non-zero, in words (empty while it runs and when it passed). */
  why: string[];
}

export interface CaseRef {
  suite: string;
  case: string;
}

export function caseKey(ref: CaseRef): string {
  return `${ref.suite}/${ref.case}`;
}
