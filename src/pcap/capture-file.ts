// A pcapng capture file for real processes. Each block goes to the kernel in one synchronous
// write as soon as the writer produces it, so a process killed with -9 loses at most the block
// in flight and the file stays readable up to its last complete block (src/pcap/reader.ts
// reports the cut one). No buffering, no fsync: a process crash is what we guard against, not
// a machine crash.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PcapngWriter, type BlockSink, type PcapngWriterOptions } from './pcapng.js';

export class CaptureFile {
  readonly path: string;
  private fd: number | null;
  private written = 0;

  /** Creates (or truncates) `filePath`, making its directory if needed. */
  constructor(filePath: string) {
    this.path = filePath;
    fs.mkdirSync(path.dirname(filePath), { recursive: true });
    this.fd = fs.openSync(filePath, 'w');
  }

  /** Pass this to a PcapngWriter. */
  readonly sink: BlockSink = (block) => this.write(block);

  get bytesWritten(): number {
    return this.written;
  }

  get closed(): boolean {
    return this.fd === null;
  }

  write(block: Uint8Array): void {
    if (this.fd === null) throw new Error(`capture file ${this.path} is closed`);
    let off = 0;
    // writeSync may write less than asked (rare for regular files); finish the block.
    while (off < block.length) off += fs.writeSync(this.fd, block, off, block.length - off);
    this.written += block.length;
  }

  /** Closes the file; later writes throw. Closing twice is harmless. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    fs.closeSync(fd);
  }
}

/** Opens `filePath` and returns a writer whose blocks go straight to it (the SHB is written now). */
export function openCaptureFile(filePath: string, opts?: PcapngWriterOptions): { writer: PcapngWriter; file: CaptureFile } {
  const file = new CaptureFile(filePath);
  try {
    return { writer: new PcapngWriter(file.sink, opts), file };
  } catch (err) {
    file.close();
    throw err;
  }
}
