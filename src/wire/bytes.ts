/**
 * Big-endian byte cursors for binary formats (snapshots, log frames): a growing writer and
 * a bounds-checked reader. The reader throws RangeError when the input ends early or holds a
 * value that does not fit; callers that parse untrusted bytes catch it and report their own
 * error.
 */

const TWO_POW_32 = 0x1_0000_0000;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  /** `size`: the first allocation; the buffer doubles when it runs out. */
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
  }
  /** A non-negative safe integer as 64 bits. */
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a non-negative safe integer: ${v}`);
    this.u32(Math.floor(v / TWO_POW_32));
    this.u32(v % TWO_POW_32);
  }
  /** IEEE 754 double: exact for every safe integer, negative ones included. */
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }
  /** Raw bytes, no length. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** What was written (a view of the buffer). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  /** Overwrites a u32 already written at `at` (a length known only at the end). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0);
  }
}

export class ByteReader {
  private readonly view: DataView;
  pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (n > this.remaining) throw new RangeError(`input ends early: ${n} bytes wanted at offset ${this.pos}, ${this.remaining} left`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    const high = this.u32();
    const v = high * TWO_POW_32 + this.u32();
    if (!Number.isSafeInteger(v)) throw new RangeError(`64-bit value beyond 2^53 at offset ${this.pos - 8}`);
    return v;
  }
  /** A double that must hold a safe integer. */
  int(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    if (!Number.isSafeInteger(v)) throw new RangeError(`not an integer: ${v} at offset ${this.pos}`);
    this.pos += 8;
    return v;
  }
  /** `n` bytes, copied. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** Throws unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) throw new RangeError(`${this.remaining} bytes left over`);
  }
}
