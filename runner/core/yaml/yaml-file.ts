import { readFileSync, statSync } from 'node:fs';
import { Document, isScalar, LineCounter, parseAllDocuments, visit } from 'yaml';
import { FaultlineError, type ErrorKind } from '../errors.js';
import { errnoText } from '../files.js';
import { IssueCollector } from './issues.js';

/** Suites, kernel definitions and expectations are hand-written: far below this. A bigger file is
 * a mistake (a log, an image) that would take the parser minutes and gigabytes to refuse. */
export const maxYamlBytes = 1 << 20;
/** Room for real reuse (`steps: *common` in hundreds of cases); an alias bomb needs far more. */
export const maxAliasCount = 10_000;

/** What kind of file it is, for messages: "suite", "kernel definition". */
export interface YamlKind {
  noun: string;
  /** Error kind for a file that cannot be read at all. */
  unreadable: ErrorKind;
  unreadableHint: string;
  /** Closes every message listing the file's problems. */
  fixHint: string;
}

export interface ParsedYaml {
  doc: Document;
  lines: LineCounter;
  issues: IssueCollector;
  /** The document as plain data; problems so far are thrown before it is returned. */
  value: unknown;
}

// Reads a hand-written YAML file: refused up front when too big, then parsed with every YAML
// problem (syntax, a second document, a complex key, an alias to no anchor, aliases that expand
// without bound) reported at file:line:column like a schema error.
export function readYamlFile(file: string, kind: YamlKind): ParsedYaml {
  return parseYamlText(file, readLimited(file, kind), kind);
}

function readLimited(file: string, kind: YamlKind): string {
  try {
    const size = statSync(file).size;
    if (size > maxYamlBytes) {
      throw new FaultlineError('usage', `${kind.noun} ${file} is ${(size / (1 << 20)).toFixed(1)} MiB; a ${kind.noun} may be at most 1 MiB`, {
        hint: `Check that this is the ${kind.noun} you meant; split a larger one into several files.`,
      });
    }
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof FaultlineError) throw error;
    throw new FaultlineError(kind.unreadable, `cannot read ${kind.noun} ${file}: ${errnoText(error)}`, { hint: kind.unreadableHint, cause: error });
  }
}

export function parseYamlText(file: string, text: string, kind: YamlKind): ParsedYaml {
  const lines = new LineCounter();
  const options = { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' as const };
  const docs = parseAllDocuments(text, options);
  const all = Array.isArray(docs) ? docs : [];
  // An empty or comment-only file is no document at all.
  const doc = all[0] ?? new Document(null);
  const issues = new IssueCollector(file, doc, lines, kind.fixHint);
  const at = (offset: number) => lines.linePos(offset);
  const push = (offset: number, message: string) => issues.issues.push({ file, line: at(offset).line, column: at(offset).col, path: '', message });

  for (const error of doc.errors) {
    const message = error.code === 'DUPLICATE_KEY' ? `duplicate key "${/^[^:\s]+/.exec(text.slice(error.pos[0]))?.[0] ?? ''}"` : error.message.split('\n')[0];
    push(error.pos[0], `YAML: ${message}`);
  }
  if (all.length === 0) push(0, 'the file is empty (or only comments)');
  const second = all[1];
  if (second) push(second.range[0], `YAML: a ${kind.noun} is one document; remove this "---" and what follows, or move it to a file of its own`);
  let firstAlias: number | null = null;
  visit(doc, {
    Pair: (_key, pair) => {
      if (pair.key !== null && !isScalar(pair.key)) push(rangeStart(pair.key), 'YAML: a key must be a plain word, not a list or mapping');
    },
    Alias: (_key, alias) => {
      firstAlias ??= rangeStart(alias);
      if (alias.resolve(doc) === undefined) push(rangeStart(alias), `YAML: alias *${alias.source} has no anchor &${alias.source} before it`);
    },
  });
  issues.throwIfAny();
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount });
  } catch (error) {
    if (!(error instanceof ReferenceError) || firstAlias === null) throw error;
    push(firstAlias, `YAML: the aliases expand to more than ${maxAliasCount} nodes (an alias bomb?); write the repeated parts out, or reuse less`);
    issues.throwIfAny();
  }
  return { doc, lines, issues, value };
}

function rangeStart(node: unknown): number {
  return (node as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
}
