/**
 * Cuts a TCP byte stream into frames whose header holds the frame's total length (a u32,
 * big-endian, at a fixed offset). Used by the log channel (the length sits at offset 4
 * of a channel frame, src/replica/channel.ts) and by the arbiter protocol (offset 0).
 *
 * Memory is bounded: at most one frame of `maxBytes` plus one read chunk is held. A length
 * outside [minBytes, maxBytes] means the stream is not ours or is out of step; the reader
 * says so once and takes nothing more (the caller closes the connection).
 */

export type FrameReaderError = 'frame-too-short' | 'frame-too-long';

export interface FrameReaderOptions {
  /** Offset of the u32 total length in the header. */
  lengthOffset: number;
  minBytes: number;
  maxBytes: number;
}

export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private failed: FrameReaderError | undefined;

  constructor(private readonly opts: FrameReaderOptions) {
    if (opts.minBytes < opts.lengthOffset + 4) throw new RangeError('FrameReader: minBytes must cover the length field');
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  get error(): FrameReaderError | undefined {
    return this.failed;
  }

  /** Takes a chunk; returns the frames it completed (possibly none) or the error that stopped the stream. */
  push(chunk: Uint8Array): { frames: Uint8Array[]; error?: FrameReaderError } {
    if (this.failed !== undefined) return { frames: [], error: this.failed };
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    const { lengthOffset, minBytes, maxBytes } = this.opts;
    while (this.buffered >= lengthOffset + 4) {
      const head = this.peek(lengthOffset + 4);
      const length = new DataView(head.buffer, head.byteOffset, head.length).getUint32(lengthOffset);
      if (length < minBytes || length > maxBytes) {
        this.failed = length < minBytes ? 'frame-too-short' : 'frame-too-long';
        this.chunks = [];
        this.buffered = 0;
        return { frames, error: this.failed };
      }
      if (this.buffered < length) break;
      frames.push(this.take(length));
    }
    return { frames };
  }

  /** The first n bytes, without consuming them (n <= buffered). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.merge();
    return this.chunks[0]!.subarray(0, n);
  }

  /**
   * Consumes and returns the first n bytes (n <= buffered): a view, not a copy.
   * Every chunk is a fresh array from the socket or from merge(), never written again, so a
   * view stays valid for as long as its holder keeps it.
   */
  private take(n: number): Uint8Array {
    if (this.chunks[0]!.length < n) this.merge();
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }

  private merge(): void {
    const all = new Uint8Array(this.buffered);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.chunks = [all];
  }
}
