/**
 * Out-of-order segment queue (RFC 9293 §3.10.7.4, seventh step: segments with higher
 * beginning sequence numbers may be held for later processing). Segments are kept sorted
 * and non-overlapping; bytes already held win over a later copy. Memory is bounded: at
 * most `limitBytes` of payload and MAX_SEGMENTS pieces; the excess is dropped (the peer
 * retransmits it) and counted as 'reassembly-full' by the caller.
 */
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from '../wire/seq.js';

export interface OooSegment {
  seq: number;
  data: Uint8Array;
}

export interface Reassembly {
  segs: OooSegment[];
  bytes: number;
  /** Sequence number of a FIN seen out of order, or -1. */
  finSeq: number;
}

/** Bound on held pieces, so a peer sending one-byte segments cannot make insertion quadratic. */
export const MAX_SEGMENTS = 1024;

export function newReassembly(): Reassembly {
  return { segs: [], bytes: 0, finSeq: -1 };
}

export function clearReassembly(r: Reassembly): void {
  r.segs = [];
  r.bytes = 0;
  r.finSeq = -1;
}

/**
 * Hold the bytes [seq, seq + data.length) (all beyond rcvNxt, inside the window). Returns
 * false when some bytes had to be dropped for lack of room. The data is copied.
 */
export function reassemblyInsert(r: Reassembly, seq: number, data: Uint8Array, limitBytes: number): boolean {
  const end = seqAdd(seq, data.length);
  // Carve out the parts of [seq, end) no held segment covers.
  const pieces: { s: number; e: number }[] = [];
  let cur = seq;
  let at = 0; // index where the first piece goes
  for (let i = 0; i < r.segs.length && seqLt(cur, end); i++) {
    const g = r.segs[i]!;
    const gEnd = seqAdd(g.seq, g.data.length);
    if (seqLe(gEnd, cur)) {
      at = i + 1;
      continue;
    }
    if (seqLe(end, g.seq)) break;
    if (seqLt(cur, g.seq)) pieces.push({ s: cur, e: g.seq });
    if (seqGt(gEnd, cur)) cur = gEnd;
  }
  if (seqLt(cur, end)) pieces.push({ s: cur, e: end });
  let complete = true;
  for (const p of pieces) {
    let len = seqDiff(p.e, p.s);
    const room = limitBytes - r.bytes;
    if (room <= 0 || r.segs.length >= MAX_SEGMENTS) {
      complete = false;
      break;
    }
    if (len > room) {
      len = room;
      complete = false;
    }
    const off = seqDiff(p.s, seq);
    const piece: OooSegment = { seq: p.s, data: data.slice(off, off + len) };
    // Insert in order: pieces are ascending, so search forward from the last position.
    while (at < r.segs.length && seqLt(r.segs[at]!.seq, p.s)) at++;
    r.segs.splice(at, 0, piece);
    at++;
    r.bytes += len;
    if (!complete) break;
  }
  return complete;
}

/**
 * Take the bytes that now continue the in-order stream at rcvNxt, in order. Held bytes
 * before rcvNxt (already delivered through a retransmission) are discarded.
 */
export function reassemblyTake(r: Reassembly, rcvNxt: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let nxt = rcvNxt;
  while (r.segs.length > 0) {
    const g = r.segs[0]!;
    if (seqGt(g.seq, nxt)) break;
    r.segs.shift();
    r.bytes -= g.data.length;
    const skip = seqDiff(nxt, g.seq);
    if (skip < g.data.length) {
      const part = skip > 0 ? g.data.subarray(skip) : g.data;
      out.push(part);
      nxt = seqAdd(nxt, part.length);
    }
  }
  return out;
}
