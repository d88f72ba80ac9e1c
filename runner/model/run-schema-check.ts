import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { FormatsPlugin } from 'ajv-formats';
import { runSchemaFile } from './run-schema.js';

// A run.json is checked against run.schema.json before anything reads a member of it, so a file
// another tool (or a hand) wrote wrong is refused naming where, never dereferenced into a crash.
// Versions 1 to 3 are checked by the same rules for the members they have, open to members the
// schema does not name: no schema pinned what their writers added.

export type RunVersion = 1 | 2 | 3 | 4;

type Schema = Record<string, unknown> & { $defs: Record<string, Record<string, unknown>>; properties: Record<string, unknown>; required: string[] };

// Loaded on the first read, not at import: `run` writes run.json and never reads one back.
const require = createRequire(import.meta.url);
const validators = new Map<RunVersion, ValidateFunction>();

function validatorFor(version: RunVersion): ValidateFunction {
  let validate = validators.get(version);
  if (!validate) {
    const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 };
    const addFormats = (require('ajv-formats') as { default: FormatsPlugin }).default;
    // The tests check the schema against its meta-schema (test/fixtures/run-schema.ts); here that would only cost time.
    const ajv = new Ajv({ strict: true, allowUnionTypes: true, validateSchema: false });
    addFormats(ajv, ['date-time', 'date']);
    validate = ajv.compile(schemaOf(version, JSON.parse(readFileSync(runSchemaFile, 'utf8')) as Schema));
    validators.set(version, validate);
  }
  return validate;
}

/** What the first thing wrong with a run.json of `version` is, in words with its path (`results/0/status is "bogus", ...`); null when nothing is. */
export function runSchemaProblem(doc: unknown, version: RunVersion): string | null {
  const validate = validatorFor(version);
  if (validate(doc)) return null;
  return describe(pickError(validate.errors ?? []), doc, version);
}

// Version 4 is the schema itself. Version 3 lacked `$schema`, `faultline` and `host`; version 2
// also `why`, and called kernel reports `findings` (the run's and each result's); version 1 had
// no matrix, and kernels without labels or places.
function schemaOf(version: RunVersion, v4: Schema): Schema {
  if (version === 4) return v4;
  const schema = open(structuredClone(v4));
  schema.$id = `urn:faultline:run:${version}`;
  const drop = (...names: string[]) => {
    for (const name of names) delete schema.properties[name];
    schema.required = schema.required.filter((name) => !names.includes(name));
  };
  drop('$schema', 'faultline', 'host');
  schema.properties.version = { const: version };
  if (version === 3) return schema;
  const findings = { type: 'array', items: { $ref: '#/$defs/kernelReport' } };
  schema.$defs.caseResultFields!.properties = { ...(schema.$defs.caseResultFields!.properties as object), findings };
  drop('why', 'reports');
  schema.properties.findings = { type: 'array', items: { $ref: '#/$defs/runReport' } };
  if (version === 2) return schema;
  return {
    $id: schema.$id,
    $defs: schema.$defs,
    type: 'object',
    required: ['version', 'startedAt', 'finishedAt', 'command', 'kernels', 'results', 'exitCode'],
    properties: {
      version: { const: 1 },
      startedAt: schema.properties.startedAt,
      finishedAt: schema.properties.finishedAt,
      command: schema.properties.command,
      kernels: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'release', 'accel'],
          properties: { id: { type: 'string', minLength: 1 }, release: { type: ['string', 'null'] }, accel: { enum: ['kvm', 'tcg', 'host', null] }, timeoutScale: { type: 'number', minimum: 1 } },
        },
      },
      results: schema.properties.results,
      restarts: schema.properties.restarts,
      findings: schema.properties.findings,
      exitCode: schema.properties.exitCode,
    },
  };
}

/** The schema without its closing rules: members it does not name are let through. */
function open<T>(node: T): T {
  if (Array.isArray(node)) return node.map(open) as T;
  if (node === null || typeof node !== 'object') return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'additionalProperties' || key === 'unevaluatedProperties') && value === false) continue;
    copy[key] = open(value);
  }
  return copy as T;
}

// A member that may be null or an object fails every branch of its oneOf at once: the error
// furthest into the document says most; at the same depth, what it is not is every type asked for.
function pickError(errors: readonly ErrorObject[]): ErrorObject & { types?: string[] } {
  const useful = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const pool = useful.length > 0 ? useful : errors;
  const depth = (e: ErrorObject) => e.instancePath.split('/').length + (e.keyword === 'required' ? 1 : 0);
  const deepest = pool.reduce((best, e) => (depth(e) > depth(best) ? e : best));
  if (deepest.keyword !== 'type') return deepest;
  const types = pool.filter((e) => e.keyword === 'type' && e.instancePath === deepest.instancePath).flatMap((e) => String(e.params.type).split(','));
  return { ...deepest, types: [...new Set(types)] };
}

const typeWords: Record<string, string> = { object: 'an object', array: 'an array', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null' };

function describe(e: ErrorObject & { types?: string[] }, doc: unknown, version: RunVersion): string {
  const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const value = segments.reduce<unknown>((at, key) => (at as Record<string, unknown> | null)?.[key], doc);
  const place = (extra?: string) => {
    const path = [...segments, ...(extra === undefined ? [] : [extra])].join('/');
    return path === '' ? 'the document' : path;
  };
  switch (e.keyword) {
    case 'required':
      return `${place(String(e.params.missingProperty))} is missing`;
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const member = String(e.params.additionalProperty ?? e.params.unevaluatedProperty);
      return `${place(member)} is not a member of a version ${version} run.json`;
    }
    case 'type':
      return `${place()} is ${shown(value)}, not ${(e.types ?? [String(e.params.type)]).map((t) => typeWords[t] ?? t).join(' or ')}`;
    case 'enum':
      return `${place()} is ${shown(value)}, not one of ${(e.params.allowedValues as unknown[]).map((v) => (v === null ? 'null' : String(v))).join(', ')}`;
    case 'const':
      return `${place()} is ${shown(value)}, not ${JSON.stringify(e.params.allowedValue)}`;
    case 'minimum':
      return `${place()} is ${shown(value)}, less than ${String(e.params.limit)}`;
    case 'format':
      return `${place()} is ${shown(value)}, not a ${String(e.params.format)}`;
    default:
      return `${place()} ${e.message ?? `breaks the schema's ${e.keyword} rule`}`;
  }
}

/** A value as a person reads it in one line: short, with no control character left raw. */
function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return short.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
