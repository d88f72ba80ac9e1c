import { z } from 'zod';
import { readYamlFile, type YamlKind } from '../core/yaml/yaml-file.js';
import { caseStatuses, type CaseStatus, type ExpectationEntry } from '../model/types.js';

const expectationFile: YamlKind = {
  noun: 'expectation file',
  unreadable: 'usage',
  unreadableHint: 'Give an existing YAML file with --expect.',
  fixHint: 'Fix the expectation file; the README ("Known failures") describes its keys: case, kernel, status, reason, until, url.',
};

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date such as 2027-01-31').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');
const entrySchema = z.strictObject({
  case: z.string().min(1),
  kernel: z.string().min(1).optional(),
  // A skip never fails a run, so an entry for one could never change anything (and never match).
  status: z.enum(caseStatuses.filter((s) => s !== 'pass') as [CaseStatus, ...CaseStatus[]]).refine((s) => s !== 'skip', 'a skip never fails the run, so an entry cannot accept one; expect fail, timeout, crash or error, or remove the entry'),
  reason: z.string().min(1, 'say why the failure is known'),
  until: z.union([date, z.date().transform((d) => d.toISOString().slice(0, 10))]).optional(),
  url: z.string().min(1).optional(),
});

// Known failures as LKFT and BPF CI keep them, with an end date: a list of entries, each naming
// the case (a glob on suite/case, or on the case name), optionally the kernel (a glob on its
// label, release or spec), the status it is known to end with and why.
export function loadExpectations(file: string): ExpectationEntry[] {
  const { issues, value } = readYamlFile(file, expectationFile);
  if (!Array.isArray(value)) {
    issues.add([], 'an expectation file is a list of entries (- case: ..., status: ..., reason: ...)');
    issues.throwIfAny();
  }
  const entries: ExpectationEntry[] = [];
  (value as unknown[]).forEach((raw, index) => {
    const entry = issues.check(entrySchema, raw, [index], Object.keys(entrySchema.shape));
    if (!entry) return;
    const { line } = issues.position([index]);
    entries.push({ case: entry.case, kernel: entry.kernel ?? null, status: entry.status, reason: entry.reason, until: entry.until ?? null, url: entry.url ?? null, at: `${file}:${line}` });
  });
  issues.throwIfAny();
  return entries;
}
