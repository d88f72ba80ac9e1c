import type { Document, LineCounter } from 'yaml';
import type { z } from 'zod';
import { FaultlineError } from '../errors.js';
import { formatPath, locate, type YamlPath } from './locate.js';

export interface SuiteIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

// Collects every problem in a suite file before reporting, so one edit-run cycle shows them all.
export class IssueCollector {
  readonly issues: SuiteIssue[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** The fix, shown under the list: where the file's keys are described. */
    private readonly hint: string = suiteFixHint,
  ) {}

  /** Where a path into the document was written. */
  position(path: YamlPath): { line: number; column: number } {
    return locate(this.doc, this.lines, path);
  }

  add(path: YamlPath, message: string, atKey = false): void {
    const { line, column } = locate(this.doc, this.lines, path, atKey);
    this.issues.push({ file: this.file, line, column, path: formatPath(path), message });
  }

  /** Validates one level; returns the parsed value, or undefined after recording its issues. */
  check<S extends z.ZodType>(schema: S, value: unknown, path: YamlPath, allowedKeys?: readonly string[]): z.output<S> | undefined {
    const parsed = schema.safeParse(value, { reportInput: true });
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      const at = [...path, ...(issue.path as (string | number)[])];
      if (issue.code === 'unrecognized_keys') {
        const allowed = allowedKeys ? ` (allowed: ${allowedKeys.join(', ')})` : '';
        for (const key of issue.keys) this.add([...at, key], `unknown key "${key}"${allowed}`, true);
      } else {
        this.add(at, describeIssue(issue));
      }
    }
    return undefined;
  }

  throwIfAny(): void {
    if (this.issues.length === 0) return;
    this.issues.sort((a, b) => a.line - b.line || a.column - b.column);
    const lines = this.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
    const count = this.issues.length === 1 ? 'an error' : `${this.issues.length} errors`;
    throw new SuiteError(`${this.file} has ${count}:\n${lines.map((l) => `  ${l}`).join('\n')}`, this.issues, this.hint);
  }
}

export const suiteFixHint = 'Fix the suite file; suites/README.md describes every key.';

/** A hand-written input file with problems, each at file:line:column (exit 2). */
export class SuiteError extends FaultlineError {
  constructor(
    message: string,
    readonly issues: SuiteIssue[],
    hint: string = suiteFixHint,
  ) {
    super('suite', message, { hint });
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const got = 'input' in issue ? describeValue(issue.input) : 'nothing';
  switch (issue.code) {
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}; got ${got}`;
    case 'invalid_type':
      return issue.input === undefined ? `required (${typeNames[issue.expected] ?? issue.expected})` : `expected ${typeNames[issue.expected] ?? issue.expected}; got ${got}`;
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}` : `must be at least ${issue.minimum}; got ${got}`;
    case 'too_big':
      return issue.origin === 'array' ? `takes at most ${issue.maximum} items` : `must be at most ${issue.maximum}; got ${got}`;
    case 'invalid_union':
      return `not a valid value; got ${got}`;
    default:
      return `${issue.message}; got ${got}`;
  }
}

const typeNames: Record<string, string> = { array: 'a list', object: 'a mapping', number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false' };

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
