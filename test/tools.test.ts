import t from 'tap';
import { rejectsExactly } from './fixtures/errors.js';
import { requireTool } from '../runner/core/tools.js';

t.test('finds a program on PATH', async (t) => {
  t.match(await requireTool('sh', 'dash'), /\/sh$/);
});

t.test('names the Debian package of a missing program', async (t) => {
  const error = await rejectsExactly(t, requireTool('faultline-no-such-tool', 'some-package'), {
    kind: 'tool',
    exitCode: 3,
    message: 'faultline-no-such-tool not found',
    hint: 'apt-get install some-package',
  });
  t.equal(error?.describe(), 'faultline-no-such-tool not found\n  apt-get install some-package');
});
