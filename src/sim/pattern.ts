/**
 * Seeded byte streams for transfers: the bytes a sender writes, produced a chunk at a
 * time so that a 10 GB transfer never holds 10 GB. A receiver regenerates the same stream
 * to find the first byte that differs.
 *
 * The generator is xoshiro128** (src/tcp/prng.ts, same seeding and output), inlined over
 * local variables here because it produces every payload byte of a run: through the Prng
 * object it was a third of a 10 MB transfer's CPU time. Words are written little-endian.
 */
import { prngSeed } from '../tcp/prng.js';

export class PatternStream {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private produced = 0;
  /** Unused bytes of the last word, so chunk boundaries never change the stream. */
  private word = 0;
  private wordBytesLeft = 0;

  constructor(
    seed: number,
    /** Total length of the stream in bytes. */
    readonly length: number,
  ) {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`PatternStream: bad length ${length}`);
    const s = prngSeed(seed);
    this.s0 = s.s0;
    this.s1 = s.s1;
    this.s2 = s.s2;
    this.s3 = s.s3;
  }

  get remaining(): number {
    return this.length - this.produced;
  }

  /** The next min(max, remaining) bytes of the stream (empty at the end). */
  next(max: number): Uint8Array {
    const n = Math.min(max, this.remaining);
    const out = new Uint8Array(n);
    let i = 0;
    while (i < n && this.wordBytesLeft > 0) {
      out[i++] = this.word & 0xff;
      this.word >>>= 8;
      this.wordBytesLeft--;
    }
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (; i < n; i += 4) {
      // xoshiro128** step, as prngNextU32.
      const m = Math.imul(s1, 5);
      const w = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      if (i + 4 <= n) {
        out[i] = w;
        out[i + 1] = w >>> 8;
        out[i + 2] = w >>> 16;
        out[i + 3] = w >>> 24;
      } else {
        let rest = w;
        let j = i;
        while (j < n) {
          out[j++] = rest & 0xff;
          rest >>>= 8;
        }
        this.word = rest;
        this.wordBytesLeft = 4 - (n - i);
      }
    }
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    this.produced += n;
    return out;
  }
}
