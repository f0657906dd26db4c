/**
 * Record boundaries in the send queue (Linux MSG_EOR; no RFC has records: RFC 9293 §3.9.1
 * lets a TCP collapse SENDs into segments as it likes, and keeping them apart is one
 * choice it allows). A write made with `eor` ends a record: no segment, first
 * transmission or retransmission, carries bytes from both sides of that boundary, and the
 * segment that ends a record carries PSH (the record's SEND is pushed, RFC 9293 §3.9.1).
 * Bytes before the mark still coalesce with it, as Linux appends an EOR write to a tail
 * skb that was not itself marked.
 *
 * The marks live in one optional TCB field (recordEnds), present only while a connection
 * has marks not yet acknowledged: a connection that never used `eor` snapshots, hashes and
 * sends exactly as before.
 */
import type { Tcb } from './tcb.js';
import { dropSeqThrough, seqAdd, seqDiff, seqGt } from '../wire/seq.js';

/** A write queued the whole of a record ending just before `end`. */
export function noteRecordEnd(tcb: Tcb, end: number): void {
  const ends = (tcb.recordEnds ??= []);
  if (ends.length === 0 || seqGt(end, ends[ends.length - 1]!)) ends.push(end);
}

/** Forget the marks at or below SND.UNA (nothing acknowledged is sent again). */
export function dropRecordEnds(tcb: Tcb): void {
  if (tcb.recordEnds !== undefined && dropSeqThrough(tcb.recordEnds, tcb.sndUna)) delete tcb.recordEnds;
}

/** The first record end after `seq`, or undefined. */
function nextEnd(tcb: Tcb, seq: number): number | undefined {
  const ends = tcb.recordEnds;
  if (ends === undefined) return undefined;
  for (const e of ends) if (seqGt(e, seq)) return e;
  return undefined;
}

/** `len` bytes from `seq`, cut at the first record end inside them. */
export function clampToRecord(tcb: Tcb, seq: number, len: number): number {
  const e = nextEnd(tcb, seq);
  if (e === undefined) return len;
  return Math.min(len, seqDiff(e, seq));
}

/** Does [seq, seq + len) end exactly at a record end? */
export function endsRecord(tcb: Tcb, seq: number, len: number): boolean {
  if (len <= 0) return false;
  return nextEnd(tcb, seq) === seqAdd(seq, len);
}
