import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseSuite } from '../runner/suite/load.js';
import { SuiteError } from '../runner/core/yaml/issues.js';

const dir = join(import.meta.dirname, 'fixtures', 'suites');
const fixtures = readdirSync(dir).filter((f) => f.startsWith('bad-') && f.endsWith('.yaml'));

t.ok(fixtures.length >= 10, 'at least ten malformed suites');

// Each malformed suite is paired with the exact lines a user sees (FILE stands for its path).
for (const fixture of fixtures) {
  t.test(fixture, async (t) => {
    const file = join(dir, fixture);
    const expected = readFileSync(file.replace(/\.yaml$/, '.errors'), 'utf8').trimEnd().split('\n');
    const error = t.throws(() => parseSuite(file, readFileSync(file, 'utf8'))) as unknown;
    t.ok(error instanceof SuiteError, 'throws a SuiteError');
    const suiteError = error as SuiteError;
    t.equal(suiteError.kind, 'suite');
    t.equal(suiteError.exitCode, 2);
    const count = expected.length === 1 ? 'an error' : `${expected.length} errors`;
    t.equal(suiteError.message, `${file} has ${count}:\n${expected.map((l) => `  ${l.replace('FILE', file)}`).join('\n')}`);
    for (const issue of suiteError.issues) t.match(`${issue.file}:${issue.line}:${issue.column}`, /^.+:\d+:\d+$/);
  });
}
