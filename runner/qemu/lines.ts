import { StringDecoder } from 'node:string_decoder';

// The console arrives in arbitrary chunks; parsers and the UI want whole lines, as soon as each
// one is complete, without the serial port's carriage returns.
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Uint8Array): void {
    this.pending += this.decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) !== -1) {
      this.onLine(this.pending.slice(0, newline).replace(/\r+$/, ''));
      this.pending = this.pending.slice(newline + 1);
    }
  }

  /** Delivers a last line that had no newline (a guest that died mid-line). */
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.onLine(this.pending.replace(/\r+$/, ''));
    this.pending = '';
  }
}
