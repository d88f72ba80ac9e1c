import { z } from 'zod';
import {
  backends, errnoNames, eventTypes, faultFlags, ioctlModes, ioctlNames, ioctlOps, madviseAdvice,
  registerModes, suiteFeatureNames,
} from './vocabulary.js';

// The YAML shapes, one level at a time: the loader validates the suite, then each case, then
// each step against its own op's schema, so an unknown key is reported with the keys allowed
// right there.
const durationPattern = /^\d+(ms|s|m)?$/;
export const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(durationPattern, 'expected a duration such as 500ms, 10s or 2m'),
]);
const byte = z.number().int().min(0).max(255);
const page = z.number().int().min(0);
const count = z.number().int().min(1).max(4096);
const target = z.enum(['reg', 'alias']);
const threadName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, 'expected a thread name such as t1 (letters, digits, _; at most 16)');
const errno = z.enum(errnoNames);
const result = z.union([
  z.enum(['len', 'untouched']),
  z.string().regex(/^(bytes|pages):\d+$|^errno:E[A-Z0-9]+$/, 'expected len, untouched, bytes:N, pages:N or errno:NAME'),
]);
const expect = z.strictObject({ errno: errno.optional(), result: result.optional() });
const list = <T extends readonly [string, ...string[]]>(names: T) => z.array(z.enum(names));
/** Names, or raw bit values for what a patched kernel adds beyond them (`0x20000`). */
const bitList = <T extends readonly [string, ...string[]]>(names: T) => z.array(z.union([z.enum(names), z.number().int().min(1)]));

export const stepSchemas = {
  open: z.strictObject({ features: bitList(suiteFeatureNames).default([]), expect: expect.optional() }),
  map: z.strictObject({
    backend: z.enum(backends).optional(),
    share: z.enum(['shared', 'private']).optional(),
    pages: z.number().int().min(1).max(512).default(1),
    alias: z.boolean().default(false),
  }),
  fill: z.strictObject({ target, page: page.default(0), count: count.default(1), byte }),
  register: z.strictObject({ page: page.default(0), count: count.optional(), modes: bitList(registerModes).min(1), expect: expect.optional() }),
  unregister: z.strictObject({ page: page.default(0), count: count.optional(), expect: expect.optional() }),
  require_ioctl: z.enum(ioctlNames),
  access: z.strictObject({ thread: threadName, target: target.default('reg'), op: z.enum(['read', 'write']), page: page.default(0), byte: byte.optional() }),
  join: z.strictObject({ thread: threadName, expect: z.enum(['done', 'sigbus', 'blocked']), wait: duration.optional(), value: byte.optional() }),
  event: z.strictObject({ type: z.enum(eventTypes), flags: bitList(faultFlags).optional(), page: page.optional(), count: count.optional(), wait: duration.optional() }),
  no_event: z.union([z.null(), z.strictObject({ wait: duration.optional() })]),
  ioctl: z.strictObject({
    op: z.enum(ioctlOps),
    page: page.default(0),
    count: count.default(1),
    offset: z.number().int().min(0).optional(),
    len: z.number().int().min(0).optional(),
    mode: list(ioctlModes).default([]),
    mode_raw: z.number().int().min(0).optional(),
    byte: byte.optional(),
    expect: expect.optional(),
  }),
  madvise: z.strictObject({ target: target.default('reg'), advice: z.enum(madviseAdvice), page: page.default(0), count: count.default(1), thread: threadName.optional(), expect: expect.optional() }),
  fallocate: z.strictObject({ mode: z.enum(['punch', 'alloc']), page: page.default(0), count: count.default(1), expect: expect.optional() }),
  check: z.strictObject({ target, page: page.default(0), count: count.default(1), byte }),
  pagemap: z.strictObject({ target: target.default('reg'), page: page.default(0), present: z.array(z.union([z.boolean(), z.literal(0), z.literal(1)])).min(1).max(64) }),
  sleep: duration,
} as const;

export type StepOp = keyof typeof stepSchemas;
export type StepArgs<K extends StepOp> = z.output<(typeof stepSchemas)[K]>;
export type Step = { [K in StepOp]: { op: K; args: StepArgs<K>; path: readonly (string | number)[] } }[StepOp];

export const needsSchema = z.strictObject({
  kernel: z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(/^\d+\.\d+$/, 'expected a release such as "6.4"')).optional(),
  hugepages: z.number().int().min(1).optional(),
  features: bitList(suiteFeatureNames).optional(),
  swap: z.boolean().optional(),
});

export const caseSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, ".", "_" and "-"'),
  description: z.string().optional(),
  backends: list(backends).min(1).optional(),
  needs: needsSchema.optional(),
  timeout: duration.optional(),
  steps: z.array(z.unknown()).min(1),
});

const allowRule = z.strictObject({
  match: z.string().min(1).refine(isRegExp, 'expected a regular expression, e.g. "WARNING: .* at mm/userfaultfd.c"'),
  reason: z.string().min(1, 'give the reason the splat is allowed'),
});

const consoleSchema = z.strictObject({
  splats: z.enum(['fail', 'report']).default('fail'),
  allow: z.array(allowRule).default([]),
});

export const suiteSchema = z.strictObject({
  suite: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, ".", "_" and "-"').optional(),
  description: z.string().optional(),
  timeout: duration.optional(),
  console: consoleSchema.optional(),
  cases: z.array(z.unknown()).min(1),
});

export function durationMs(value: z.output<typeof duration>): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)(ms|s|m)?$/.exec(value)!;
  const scale = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  return Number(match[1]) * scale;
}

function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}
