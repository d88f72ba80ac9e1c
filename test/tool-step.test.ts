import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { rejectsExactly } from './fixtures/errors.js';
import { toolStep } from '../kernels/source/tool-step.js';
import { FaultlineError } from '../runner/core/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-tool-step-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

t.test('a failing program becomes one io error naming the step and its first complaint', async (t) => {
  const missing = join(scratch, 'no-such-tree');
  const error = await rejectsExactly(t, toolStep(`copying ${missing} into the cache`, scratch, () => execa('cp', ['-a', `${missing}/.`, scratch], { env: { LC_ALL: 'C' } })), {
    kind: 'io',
    exitCode: 3,
    message: `copying ${missing} into the cache failed: cp: cannot stat '${missing}/.': No such file or directory`,
  });
  t.match(error?.describe(), /free space of the cache directory/);
});

t.test('an abort passes through untouched', async (t) => {
  const abort = new AbortController();
  const child = toolStep('sleeping', scratch, () => execa('sleep', ['5'], { cancelSignal: abort.signal }), abort.signal);
  abort.abort(new Error('stopped by SIGINT'));
  const error = await child.catch((e: unknown) => e);
  t.notOk(error instanceof FaultlineError);
  t.match(error, { isCanceled: true }, 'the program was cancelled, and toolStep rejected');
  t.equal((error as { cause?: unknown }).cause, abort.signal.reason, 'with the abort reason, unwrapped');
});
