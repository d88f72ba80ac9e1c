import t from 'tap';
import { FaultlineError } from '../runner/errors.js';
import { requireTool } from '../runner/tools.js';

t.test('finds a program on PATH', async (t) => {
  t.match(await requireTool('sh', 'dash'), /\/sh$/);
});

t.test('names the Debian package of a missing program', async (t) => {
  await t.rejects(requireTool('faultline-no-such-tool', 'some-package'), { kind: 'tool', message: 'faultline-no-such-tool not found', hint: 'apt-get install some-package' });
  try {
    await requireTool('faultline-no-such-tool', 'some-package');
  } catch (error) {
    t.equal((error as FaultlineError).describe(), 'faultline-no-such-tool not found\n  apt-get install some-package');
    t.equal((error as FaultlineError).exitCode, 3);
  }
});
