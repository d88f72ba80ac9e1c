import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { toolStep } from '../kernels/source/tool-step.js';
import { FaultlineError } from '../runner/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-tool-step-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

t.test('a failing program becomes one io error naming the step and its first complaint', async (t) => {
  const missing = join(scratch, 'no-such-tree');
  const error = await toolStep(`copying ${missing} into the cache`, scratch, () => execa('cp', ['-a', `${missing}/.`, scratch], { env: { LC_ALL: 'C' } })).catch((e: unknown) => e);
  t.ok(error instanceof FaultlineError);
  const e = error as FaultlineError;
  t.equal(e.kind, 'io');
  t.equal(e.exitCode, 3);
  t.equal(e.message, `copying ${missing} into the cache failed: cp: cannot stat '${missing}/.': No such file or directory`);
  t.match(e.describe(), /free space of the cache directory/);
});

t.test('an abort passes through untouched', async (t) => {
  const abort = new AbortController();
  const child = toolStep('sleeping', scratch, () => execa('sleep', ['5'], { cancelSignal: abort.signal }), abort.signal);
  abort.abort(new Error('stopped by SIGINT'));
  const error = await child.catch((e: unknown) => e);
  t.notOk(error instanceof FaultlineError);
});
