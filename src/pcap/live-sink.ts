// A live pcapng stream: the same blocks a capture file gets, written as they happen to a FIFO,
// a file or standard output, so `ftcp ... --capture-live - | wireshark -k -i -` shows a run
// while it runs.
//
// The process being watched must never wait for the viewer: a replica that blocked on a slow
// Wireshark would miss its heartbeats. So writes are asynchronous (libuv's thread pool, even
// for a pipe on stdout, where Node's own process.stdout would write synchronously), at most
// QUEUE_LIMIT bytes wait, and packet blocks beyond that are dropped and counted. pcapng lets a
// reader skip a missing packet block; the section header and interface blocks, which the
// reader cannot do without, are never dropped. A viewer that goes away (EPIPE) ends the
// stream; the run goes on and the capture files on disk are complete either way.

import * as fs from 'node:fs';
import type { BlockSink } from './pcapng.js';

/** Bytes that may wait for the viewer before packet blocks are dropped. */
export const LIVE_QUEUE_LIMIT = 8 * 1024 * 1024;

/** pcapng block types (pcapng spec §4): the enhanced packet block is the only droppable one. */
const ENHANCED_PACKET_BLOCK = 6;

export interface LiveCaptureStats {
  /** blocks handed to the viewer's stream */
  written: number;
  /** packet blocks dropped because the viewer fell behind */
  dropped: number;
  /** why the stream ended early (the viewer closed it, a write failed), or null */
  failed: string | null;
}

export class LiveCapture {
  readonly target: string;
  private readonly stream: fs.WriteStream;
  private queued = 0;
  private readonly counts = { written: 0, dropped: 0 };
  private failure: string | null = null;
  private closed = false;

  private constructor(target: string, stream: fs.WriteStream) {
    this.target = target;
    this.stream = stream;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.failure ??= error.code === 'EPIPE' ? 'the viewer closed the stream' : error.message;
    });
  }

  /**
   * Opens `target`: '-' is standard output; a FIFO must already have a reader (start
   * `wireshark -k -i FIFO` first), so opening never blocks; anything else is created or
   * truncated as a file. Throws an Error with a one-line message when it cannot.
   */
  static open(target: string): LiveCapture {
    if (target === '-') return new LiveCapture('standard output', fs.createWriteStream('', { fd: 1, autoClose: false }));
    let isFifo = false;
    try {
      isFifo = fs.statSync(target).isFIFO();
    } catch {
      // does not exist yet: a plain file
    }
    if (isFifo) {
      // O_NONBLOCK makes open fail at once (ENXIO) when nobody reads, instead of hanging.
      let probe: number;
      try {
        probe = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENXIO') throw new Error(`nobody is reading the FIFO ${target}; start the viewer first (wireshark -k -i ${target})`);
        throw new Error(`cannot open the FIFO ${target}: ${(error as Error).message}`);
      }
      // A reader is there, so a blocking open returns at once; writes then wait in the
      // thread pool, not in the event loop.
      const fd = fs.openSync(target, fs.constants.O_WRONLY);
      fs.closeSync(probe);
      return new LiveCapture(target, fs.createWriteStream('', { fd }));
    }
    try {
      const fd = fs.openSync(target, 'w');
      return new LiveCapture(target, fs.createWriteStream('', { fd }));
    } catch (error) {
      throw new Error(`cannot create ${target}: ${(error as Error).message}`);
    }
  }

  get stats(): LiveCaptureStats {
    return { ...this.counts, failed: this.failure };
  }

  /** Pass this to a PcapngWriter, alone or through teeSinks. */
  readonly sink: BlockSink = (block) => this.write(block);

  write(block: Uint8Array): void {
    if (this.closed || this.failure !== null) return;
    const type = block.length >= 4 ? new DataView(block.buffer, block.byteOffset, 4).getUint32(0, true) : -1;
    if (type === ENHANCED_PACKET_BLOCK && this.queued + block.length > LIVE_QUEUE_LIMIT) {
      this.counts.dropped++;
      return;
    }
    const copy = Buffer.from(block);
    this.queued += copy.length;
    this.counts.written++;
    this.stream.write(copy, () => {
      this.queued -= copy.length;
    });
  }

  /** Ends the stream; resolves when what was queued is written (or the stream failed). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      if (this.failure !== null) {
        this.stream.destroy();
        resolve();
        return;
      }
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
  }
}

/** One sink that hands every block to each of `sinks` in turn. */
export function teeSinks(...sinks: BlockSink[]): BlockSink {
  return (block) => {
    for (const sink of sinks) sink(block);
  };
}
