import { StringDecoder } from 'node:string_decoder';

/** Where a line is in the stream, in bytes: from its first byte to just past its newline. */
export interface LineSpan {
  start: number;
  end: number;
}

// The console arrives in arbitrary chunks; parsers and the UI want whole lines, as soon as each
// one is complete, without the serial port's carriage returns, and where each line is in the
// stream (the console log holds the same bytes, so a case's excerpt is found by its offsets).
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private seen = 0;
  private lineStart = 0;
  /** Byte offsets just past each newline whose line has not been handed on yet. A newline byte is
   * never part of a multi-byte character, so the decoded text has exactly these newlines. */
  private readonly ends: number[] = [];

  constructor(private readonly onLine: (line: string, span: LineSpan) => void) {}

  write(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) this.ends.push(this.seen + i + 1);
    this.seen += bytes.length;
    this.pending += this.decoder.write(bytes);
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) !== -1) {
      const end = this.ends.shift()!;
      this.onLine(this.pending.slice(0, newline).replace(/\r+$/, ''), { start: this.lineStart, end });
      this.lineStart = end;
      this.pending = this.pending.slice(newline + 1);
    }
  }

  /** Delivers a last line that had no newline (a guest that died mid-line). */
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.onLine(this.pending.replace(/\r+$/, ''), { start: this.lineStart, end: this.seen });
    this.lineStart = this.seen;
    this.pending = '';
  }
}
