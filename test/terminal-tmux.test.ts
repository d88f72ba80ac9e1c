import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { fitWidth } from '../runner/reporters/terminal.js';
import { skipUnlessCi } from './fixtures/ci-needs.js';
import { defaultKernel } from './fixtures/host.js';
import { eventually } from './fixtures/process.js';

// What a person sees in a real terminal: a guest run inside tmux at 80 columns, whose status
// line ("boot ... | 2/25 cases | running minor-faults/...") is longer than the screen is wide.
// Every redraw must erase the last one: the scrollback holds the run's own lines and no copy of
// the status line.
const tmux = ['/usr/bin/tmux', '/bin/tmux'].find((p) => existsSync(p));
const missing = skipUnlessCi(tmux ? null : 'tmux is absent: apt-get install tmux');
if (missing) t.plan(0, missing);

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'runner', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-tmux-'));
const session = `faultline-test-${process.pid}`;
t.teardown(async () => {
  await execa(tmux!, ['kill-session', '-t', session], { reject: false });
  rmSync(scratch, { recursive: true, force: true });
});

t.test('the status line is cut to the width and leaves nothing behind', async (t) => {
  await defaultKernel();
  const dir = join(scratch, 'run');
  // CI=true would turn the status line off: the terminal under test is a person's.
  const command = `cd ${root} && env -u CI node ${cli} run --case continue- --results ${dir}; echo "faultline-exit=$?"; sleep 120`;
  await execa(tmux!, ['new-session', '-d', '-s', session, '-x', '80', '-y', '50', command]);
  const screen = async () => (await execa(tmux!, ['capture-pane', '-p', '-t', session, '-S', '-2000'])).stdout;
  // Watched while it runs, so a status line that was never drawn cannot pass for one erased well.
  let drawn = false;
  const ended = await eventually(async () => {
    const now = await screen();
    drawn ||= /\d+\/\d+ cases/.test(now);
    return /faultline-exit=\d+/.test(now);
  }, 300_000, 100);
  t.ok(ended, 'the run ended');
  t.ok(drawn, 'a status line was on the screen while it ran');
  const text = await screen();
  t.match(text, /faultline-exit=0/, 'and passed');
  const lines = text.split('\n');
  t.ok(lines.filter((l) => /^ {2}(ok|skip) {4,}minor-faults\//.test(l)).length >= 20, 'its case lines are there');
  t.same(lines.filter((l) => /\d+\/\d+ cases/.test(l)), [], 'no status line is left behind');
});

t.test('a status line never reaches the last column', async (t) => {
  t.equal(fitWidth('short', 80), 'short');
  const long = `boot   6.1.0-57-cloud-amd64 3.3s  |  2/25 cases  |  running ${'x'.repeat(60)}`;
  t.equal([...fitWidth(long, 80)].length, 79);
  t.match(fitWidth(long, 80), /…$/, 'a cut line says it was cut');
});
