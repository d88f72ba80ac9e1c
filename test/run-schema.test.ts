import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { faultlineVersion } from '../runner/core/version.js';
import { readRun, runDocument } from '../runner/model/document.js';
import { runSchemaFile, runSchemaId } from '../runner/model/run-schema.js';
import { caseStatuses, comparisonClasses, fillCauses, reportKinds, skipCauses, type RunModel } from '../runner/model/types.js';
import { kernelRecord, modelOf, result } from './fixtures/model.js';
import { runSchemaErrors } from './fixtures/run-schema.js';

// runner/model/run.schema.json against the model it describes: its vocabularies are types.ts's,
// what the engine builds passes it, and what the model does not allow is refused.
const schema = JSON.parse(readFileSync(runSchemaFile, 'utf8')) as { $id: string; properties: { $schema: { const: string } }; $defs: Record<string, { enum?: unknown[] }> };
const runs = join(import.meta.dirname, 'fixtures', 'runs');
const asDocument = (model: RunModel): unknown => JSON.parse(runDocument(model));

t.test('the schema names itself as run.json does, and its vocabularies are the model\'s', async (t) => {
  t.equal(schema.$id, runSchemaId);
  t.equal(schema.properties.$schema.const, runSchemaId);
  t.same(schema.$defs.caseStatus?.enum, caseStatuses);
  t.same(schema.$defs.skipCause?.enum, skipCauses);
  t.same(schema.$defs.fillCause?.enum, fillCauses);
  t.same(schema.$defs.reportKind?.enum, reportKinds);
  t.same(schema.$defs.comparisonClass?.enum, comparisonClasses);
});

t.test('a run as the store builds it: who ran it, where, and each kernel\'s accelerator proof and tree', async (t) => {
  const source = kernelRecord('source-0123456789abcdef01234567', 0, {
    accelProof: { reason: 'KVM probe printed the kernel banner in 312 ms', probeMs: 312, cached: false },
    tree: { commit: 'a'.repeat(40), configSha256: 'b'.repeat(64), buildKey: '0123456789abcdef01234567' },
  });
  const store = modelOf({ kernels: [source], cases: [{ suite: 's', case: 'c' }], results: [{ ...result(source.id, 's', 'c', 'pass'), excerpt: { file: 'console.log', start: 10, end: 42 } }] });
  t.same(store.model.host, { cpus: availableParallelism(), qemu: null }, 'no guest booted yet: QEMU unknown');
  store.noteQemu('QEMU emulator version 7.2.19');
  store.noteQemu('QEMU emulator version 9.0.0');
  store.finish(0, []);
  const doc = asDocument(store.model) as RunModel;
  t.match(doc, { $schema: runSchemaId, version: 4, faultline: faultlineVersion, host: { qemu: 'QEMU emulator version 7.2.19' } });
  t.same(Object.keys(doc).slice(0, 4), ['$schema', 'version', 'faultline', 'host'], 'what the document is comes first');
  t.same(runSchemaErrors(doc), []);
});

t.test('the recorded runs of version 3, read and written again, match the schema with their origin unknown', async (t) => {
  const recorded = readdirSync(runs).filter((name) => !name.includes('.'));
  t.ok(recorded.length >= 7);
  for (const name of recorded) {
    const model = readRun(join(runs, name));
    t.match(model, { $schema: runSchemaId, version: 4, faultline: null, host: null }, name);
    t.same(runSchemaErrors(asDocument(model)), [], name);
  }
});

t.test('runs of versions 1 and 2, read and written again, match the schema too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-schema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const finding = { kind: 'warning', title: 'WARNING: at mm/userfaultfd.c:1', text: 'WARNING: at mm/userfaultfd.c:1', fatal: false };
  const v1 = { version: 1, startedAt: '2026-11-20T00:00:00Z', finishedAt: '2026-11-20T00:01:00Z', command: [], kernels: [{ id: 'k', release: '6.1.0', accel: 'tcg' }], results: [{ ...result('k', 's', 'c', 'pass'), findings: [finding] }], exitCode: 0 };
  const { $schema: _, faultline: _f, host: _h, why: _w, reports: _r, ...current } = asDocument(modelOf({ kernels: [kernelRecord('k', 0)], cases: [{ suite: 's', case: 'c' }], results: [result('k', 's', 'c', 'fail', 'x')] }).model) as RunModel;
  const v2 = { ...current, version: 2, findings: [{ kernel: 'k', ...finding }] };
  for (const [name, doc] of Object.entries({ v1, v2 })) {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(doc));
    const model = readRun(join(dir, `${name}.json`));
    t.same(runSchemaErrors(asDocument(model)), [], name);
  }
});

t.test('what the model does not allow is refused, each with where it is', async (t) => {
  const k = kernelRecord('k', 0);
  const valid = asDocument(modelOf({ kernels: [k], cases: [{ suite: 's', case: 'c' }], results: [result('k', 's', 'c', 'pass')] }).model) as Record<string, unknown> & { results: Record<string, unknown>[]; kernels: Record<string, unknown>[] };
  const broken = (edit: (doc: typeof valid) => void) => {
    const doc = structuredClone(valid);
    edit(doc);
    return runSchemaErrors(doc).map((e) => e.split(' ')[0]);
  };
  t.same(runSchemaErrors(valid), []);
  t.same(broken((d) => (d.results[0]!.status = 'passed')), ['/results/0/status:']);
  t.same(broken((d) => (d.results[0]!.skipCause = 'weather')), ['/results/0/skipCause:']);
  t.same(broken((d) => (d.results[0]!.excerpt = { file: 'console.log', start: -1, end: 4 })), ['/results/0/excerpt/start:']);
  t.same(broken((d) => (d.results[0]!.console = 'text')), ['/results/0:'], 'a result member the model has not');
  t.same(broken((d) => (d.kernels[0]!.tree = { commit: 'HEAD', configSha256: 'x', buildKey: 'k' })), ['/kernels/0/tree/commit:', '/kernels/0/tree/configSha256:', '/kernels/0/tree/buildKey:']);
  t.same(broken((d) => (d.version = 3)), ['/version:'], 'an older document is read by readRun, not by this schema');
  t.same(broken((d) => delete d.host), ['/:'], 'host is required, null when unknown');
  t.same(broken((d) => (d.$schema = '/srv/faultline/runner/model/run.schema.json')), ['/$schema:']);
});
