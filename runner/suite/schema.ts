import { z } from 'zod';
import {
  backends, errnoNames, eventTypes, faultFlags, ioctlModes, ioctlNames, ioctlOps, madviseAdvice,
  planNameMax, planNumberMax, planTimeoutMaxMs, registerModes, suiteFeatureNames,
} from './vocabulary.js';

// The YAML shapes, one level at a time: the loader validates the suite, then each case, then
// each step against its own op's schema, so an unknown key is reported with the keys allowed
// right there. Every value the helper would refuse is refused here, at its line.
const durationPattern = /^(\d+)(ms|s|m)?$/;
const durationText = z.union([z.number().int().nonnegative(), z.string().regex(durationPattern, 'expected a duration such as 500ms, 10s or 2m')]);

/** A duration as written (`500ms`, `10s`, `2m`, or a number of milliseconds) in milliseconds. */
function durationMs(value: number | string): number {
  if (typeof value === 'number') return value;
  const match = durationPattern.exec(value);
  if (!match) return Number.NaN;
  return Number(match[1]) * (match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1);
}

/** Milliseconds the way a suite writes them: 15m, 90s, 500ms. */
export const formatDuration = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
/** A duration checked against the helper's range, given in milliseconds. */
const durationWithin = (minMs: number, maxMs: number, what: string) =>
  durationText
    .refine(
      (v) => Number.isNaN(durationMs(v)) || (durationMs(v) >= minMs && durationMs(v) <= maxMs),
      minMs === 0 ? `${what} may be at most ${formatDuration(maxMs)}` : `${what} must be from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`,
    )
    .transform(durationMs);
/** Case limits: the helper takes 1 ms to an hour. */
export const caseTimeout = durationWithin(1, planTimeoutMaxMs, "a case's time limit");
/** Waits and sleeps: none can sensibly outlast the longest case. */
const wait = durationWithin(0, planTimeoutMaxMs, 'a wait or sleep');

const planInt = z.number().int().min(0).max(planNumberMax);
const byte = z.number().int().min(0).max(255);
const page = planInt;
const count = z.number().int().min(1).max(4096);
const target = z.enum(['reg', 'alias']);
const threadName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, 'expected a thread name such as t1 (letters, digits, _; at most 16)');
/** A forked child of the case process, an actor like a thread: steps with `child` run in it. */
const childName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, 'expected a child name such as c1 (letters, digits, _; at most 16)');
const bits = z.array(z.union([z.boolean(), z.literal(0), z.literal(1)])).min(1).max(64);
const errno = z.enum(errnoNames);
const resultPattern = /^(?:(bytes|pages):(\d+)|errno:(E[A-Z0-9]+))$/;
const result = z.union([
  z.enum(['len', 'untouched']),
  z.string().regex(resultPattern, 'expected len, untouched, bytes:N, pages:N or errno:NAME').superRefine((text, ctx) => {
    const [, unit, n, name] = resultPattern.exec(text)!;
    if (unit && Number(n) > planNumberMax) ctx.addIssue({ code: 'custom', message: `${unit}:N takes N up to ${planNumberMax}`, input: text });
    if (name && !(errnoNames as readonly string[]).includes(name)) ctx.addIssue({ code: 'custom', message: `unknown errno ${name} (one of ${errnoNames.join(', ')})`, input: text });
  }),
]);
const expect = z.strictObject({ errno: errno.optional(), result: result.optional() });
const list = <T extends readonly [string, ...string[]]>(names: T) => z.array(z.enum(names));
/** Names, or raw bit values for what a patched kernel adds beyond them (`0x20000`). */
const bitList = <T extends readonly [string, ...string[]]>(names: T) => z.array(z.union([z.enum(names), z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)]));

export const stepSchemas = {
  open: z.strictObject({ features: bitList(suiteFeatureNames).default([]), expect: expect.optional() }),
  map: z.strictObject({
    backend: z.enum(backends).optional(),
    share: z.enum(['shared', 'private']).optional(),
    pages: z.number().int().min(1).max(512).default(1),
    alias: z.boolean().default(false),
    thp: z.boolean().default(false),
  }),
  fill: z.strictObject({ target, page: page.default(0), count: count.default(1), byte }),
  register: z.strictObject({ page: page.default(0), count: count.optional(), modes: bitList(registerModes).min(1), expect: expect.optional() }),
  unregister: z.strictObject({ page: page.default(0), count: count.optional(), expect: expect.optional() }),
  require_ioctl: z.enum(ioctlNames),
  require_thp: target,
  access: z.strictObject({ thread: threadName, target: target.default('reg'), op: z.enum(['read', 'write']), page: page.default(0), byte: byte.optional(), child: childName.optional() }),
  join: z.strictObject({ thread: threadName.optional(), child: childName.optional(), expect: z.enum(['done', 'sigbus', 'blocked']), wait: wait.optional(), value: byte.optional() }),
  event: z.strictObject({ type: z.enum(eventTypes), flags: bitList(faultFlags).optional(), page: page.optional(), count: count.optional(), wait: wait.optional(), uffd: childName.optional(), child: childName.optional(), old: z.boolean().optional() }),
  no_event: z.union([z.null(), z.strictObject({ wait: wait.optional(), uffd: childName.optional() })]),
  fork: z.strictObject({ child: childName }),
  ioctl: z.strictObject({
    op: z.enum(ioctlOps),
    page: page.default(0),
    count: count.default(1),
    offset: planInt.optional(),
    len: planInt.optional(),
    mode: list(ioctlModes).default([]),
    mode_raw: planInt.optional(),
    byte: byte.optional(),
    expect: expect.optional(),
    uffd: childName.optional(),
  }),
  madvise: z.strictObject({ target: target.default('reg'), advice: z.enum(madviseAdvice), page: page.default(0), count: count.default(1), thread: threadName.optional(), expect: expect.optional() }),
  fallocate: z.strictObject({ mode: z.enum(['punch', 'alloc']), page: page.default(0), count: count.default(1), expect: expect.optional() }),
  mremap: z.strictObject({ page: page.default(0), count: count.optional(), fixed: z.boolean().default(true), thread: threadName.optional(), expect: expect.optional() }),
  munmap: z.strictObject({ page: page.default(0), count: count.default(1), thread: threadName.optional(), expect: expect.optional() }),
  check: z.strictObject({ target, page: page.default(0), count: count.default(1), byte, child: childName.optional() }),
  pagemap: z.strictObject({ target: target.default('reg'), page: page.default(0), present: bits.optional(), wp: bits.optional(), child: childName.optional() }),
  sleep: wait,
} as const;

export type StepOp = keyof typeof stepSchemas;
export type StepArgs<K extends StepOp> = z.output<(typeof stepSchemas)[K]>;
export type Step = { [K in StepOp]: { op: K; args: StepArgs<K>; path: readonly (string | number)[] } }[StepOp];

export const needsSchema = z.strictObject({
  kernel: z
    .union([z.string().regex(/^\d+\.\d+$/, 'expected a release such as "6.4"'), z.number()])
    .superRefine((v, ctx) => {
      if (typeof v === 'number') ctx.addIssue({ code: 'custom', message: 'write the release in quotes, e.g. "6.10": YAML reads an unquoted 6.10 as the number 6.1', input: v });
    })
    .transform(String)
    .optional(),
  hugepages: planInt.min(1).optional(),
  features: bitList(suiteFeatureNames).optional(),
  swap: z.boolean().optional(),
});

const name = z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, ".", "_" and "-"').max(planNameMax);

export const caseSchema = z.strictObject({
  name,
  description: z.string().optional(),
  backends: list(backends).min(1).optional(),
  needs: needsSchema.optional(),
  timeout: caseTimeout.optional(),
  /** The case touches state the whole machine shares (a sysctl, huge-page counts): no other case runs beside it. */
  alone: z.boolean().optional(),
  steps: z.array(z.unknown()).min(1),
});

const allowRule = z.strictObject({
  match: z.string().min(1).refine(isRegExp, 'expected a regular expression, e.g. "WARNING: .* at mm/userfaultfd.c"'),
  reason: z.string().min(1, 'give the reason the kernel report is allowed'),
});

const consoleSchema = z.strictObject({
  splats: z.enum(['fail', 'report']).default('fail'),
  allow: z.array(allowRule).default([]),
});

export const suiteSchema = z.strictObject({
  suite: name.optional(),
  description: z.string().optional(),
  timeout: caseTimeout.optional(),
  console: consoleSchema.optional(),
  cases: z.array(z.unknown()).min(1),
});

function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}
