import t from 'tap';
import { LineSplitter } from '../runner/qemu/lines.js';

t.test('lines split across chunks, carriage returns dropped, a last partial line flushed', async (t) => {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  const text = Buffer.from('[    0.000000] Linux version 6.1\r\nfaultline: agent ready\r\n\r\nké\ntail');
  for (let i = 0; i < text.length; i += 3) splitter.write(text.subarray(i, i + 3));
  t.same(lines, ['[    0.000000] Linux version 6.1', 'faultline: agent ready', '', 'ké']);
  splitter.end();
  t.same(lines.at(-1), 'tail');
});
