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

t.test('each line says where it is in the stream, in bytes, however the chunks fall', async (t) => {
  const text = Buffer.concat([Buffer.from('ké\r\n'), Buffer.from([0xff, 0x0a]), Buffer.from('[ 1.0] faultline: case a/b begin\nlast')]);
  for (const size of [1, 2, 3, 7, text.length]) {
    const spans: [string, number, number][] = [];
    const splitter = new LineSplitter((line, span) => spans.push([line, span.start, span.end]));
    for (let i = 0; i < text.length; i += size) splitter.write(text.subarray(i, i + size));
    splitter.end();
    t.same(spans.map(([, s, e]) => [s, e]), [[0, 5], [5, 7], [7, 40], [40, 44]], `chunks of ${size}`);
    for (const [line, start, end] of spans) t.equal(text.subarray(start, end).toString('utf8').replace(/\r?\n$/, ''), line, `"${line}" is its bytes`);
  }
});
