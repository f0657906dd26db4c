/**
 * A bounded FIFO of bytes in a growable ring: the send buffer and the in-order receive
 * buffer. Appending, dropping a prefix (an ACK) and reading a prefix cost O(bytes moved),
 * never O(bytes held), and peeking at any offset (building a segment) is O(1) to find.
 * The backing array grows by doubling up to the limit and is given back when the ring
 * empties, so an idle connection holds nothing. Only the content and the limit are
 * state; the capacity is not.
 */
import { crc32 } from '../wire/crc32.js';

/** The backing array of every empty ring (never written: write() allocates before it copies). */
const EMPTY = new Uint8Array(0);

/**
 * Backing arrays given back by rings that emptied, by capacity, for the next ring that
 * needs one. A bulk receiver's ring empties after every read, and allocating (and zeroing)
 * 64 KiB again for the next segment cost a tenth of a replica's time in garbage
 * collection. Bounded, so that idle connections still cost nothing: the pool is
 * per process, not per ring. Which array a ring gets never shows: only bytes [head,
 * head + len) are ever read.
 */
const POOL = new Map<number, Uint8Array[]>();
const POOL_MAX_BYTES = 4 * 1024 * 1024;
const POOL_MAX_PER_SIZE = 4;
let pooledBytes = 0;

function giveBack(buf: Uint8Array): void {
  if (buf.length === 0 || pooledBytes + buf.length > POOL_MAX_BYTES) return;
  let list = POOL.get(buf.length);
  if (list === undefined) POOL.set(buf.length, (list = []));
  if (list.length >= POOL_MAX_PER_SIZE) return;
  list.push(buf);
  pooledBytes += buf.length;
}

function obtain(capacity: number): Uint8Array {
  const buf = POOL.get(capacity)?.pop();
  if (buf === undefined) return new Uint8Array(capacity);
  pooledBytes -= capacity;
  return buf;
}

export class ByteRing {
  private buf: Uint8Array;
  private head = 0;
  private len = 0;

  constructor(readonly limit: number) {
    this.buf = EMPTY;
  }

  get length(): number {
    return this.len;
  }

  get free(): number {
    return this.limit - this.len;
  }

  /** Append up to `free` bytes of src; returns how many were taken. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.limit - this.len);
    if (n === 0) return 0;
    this.reserve(this.len + n);
    const cap = this.buf.length;
    const tail = (this.head + this.len) & (cap - 1);
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(0, first), tail);
    if (first < n) this.buf.set(src.subarray(first, n), 0);
    this.len += n;
    return n;
  }

  /** A copy of bytes [offset, offset + n) from the front; n is clamped to what is held. */
  peek(offset: number, n: number): Uint8Array {
    const count = Math.max(0, Math.min(n, this.len - offset));
    const out = new Uint8Array(count);
    if (count === 0) return out;
    const cap = this.buf.length;
    const start = (this.head + offset) & (cap - 1);
    const first = Math.min(count, cap - start);
    out.set(this.buf.subarray(start, start + first), 0);
    if (first < count) out.set(this.buf.subarray(0, count - first), first);
    return out;
  }

  /**
   * Bytes [offset, offset + n) without copying when they are contiguous: a view into the
   * ring, valid only until the next write. For a caller that copies at once (building a
   * packet); anything that keeps the bytes must use peek().
   */
  view(offset: number, n: number): Uint8Array {
    const count = Math.max(0, Math.min(n, this.len - offset));
    if (count === 0) return new Uint8Array(0);
    const cap = this.buf.length;
    const start = (this.head + offset) & (cap - 1);
    if (start + count <= cap) return this.buf.subarray(start, start + count);
    return this.peek(offset, count);
  }

  /** Remove and return up to n bytes from the front. */
  read(n: number): Uint8Array {
    const out = this.peek(0, n);
    this.drop(out.length);
    return out;
  }

  /**
   * Forget n bytes from the front (clamped). A ring that empties gives its backing array
   * back, so a connection that went idle after a request holds no buffer (the next
   * write allocates again).
   */
  drop(n: number): void {
    const count = Math.min(n, this.len);
    if (count <= 0) return;
    this.len -= count;
    if (this.len === 0) {
      this.head = 0;
      giveBack(this.buf);
      this.buf = EMPTY;
    } else {
      this.head = (this.head + count) & (this.buf.length - 1);
    }
  }

  /** Forget everything (RFC 9293: "flush the segment queues"). */
  clear(): void {
    this.len = 0;
    this.head = 0;
    giveBack(this.buf);
    this.buf = EMPTY;
  }

  /** The content as one new array (snapshots). */
  toBytes(): Uint8Array {
    return this.peek(0, this.len);
  }

  /** CRC-32 of the content (the same as crc32(toBytes())), without copying it. */
  crc32(): number {
    if (this.len === 0) return 0;
    const cap = this.buf.length;
    const first = Math.min(this.len, cap - this.head);
    const crc = crc32(this.buf, this.head, this.head + first);
    return first < this.len ? crc32(this.buf, 0, this.len - first, crc) : crc;
  }

  static from(limit: number, content: Uint8Array): ByteRing {
    const r = new ByteRing(Math.max(limit, content.length));
    r.write(content);
    return r;
  }

  private reserve(needed: number): void {
    if (needed <= this.buf.length) return;
    let cap = Math.max(1024, this.buf.length);
    while (cap < needed) cap *= 2;
    const next = obtain(cap);
    if (this.len > 0) next.set(this.peek(0, this.len), 0);
    giveBack(this.buf);
    this.buf = next;
    this.head = 0;
  }
}
