/**
 * Profile 'linux': the send buffer as Linux accounts for it. RFC 9293 §3.9.1.2 (SEND) leaves
 * how much a SEND may queue to the implementation ("If there is insufficient space to
 * remember this buffer, the SEND call ... may be blocked"); under profile 'rfc' the buffer
 * holds the configured number of payload bytes (sender.ts queueData). Linux instead:
 *
 * - queues a write in buffers (skbs) of up to a "size goal" (half the peer's largest window,
 *   in whole MSS, at most 64 KB: tcp_xmit_size_goal), appending to the last one while it is
 *   unsent and not full;
 * - counts each buffer's payload plus a fixed overhead against SO_SNDBUF (sk_wmem_queued,
 *   skb->truesize), and opens a new buffer only while that count is below SO_SNDBUF and the
 *   bytes written but not sent are below TCP_NOTSENT_LOWAT (sk_stream_memory_free): the last
 *   buffer may take the count past SO_SNDBUF;
 * - splits a buffer in two (a second overhead) when it sends only part of it (tso_fragment,
 *   tcp_fragment), and frees a buffer once all of it is acknowledged;
 * - sends a full buffer in the middle of a write (tcp_push_one, __tcp_push_pending_frames);
 * - wakes a blocked writer only when a third of SO_SNDBUF is free (sk_stream_write_space),
 *   which the conformance runner applies (readiness.ts writeable).
 *
 * The state is one optional TCB field, present only under 'linux': 'rfc' snapshots, state
 * hashes and captures are unchanged.
 */
import type { Ctx, Tcb } from './tcb.js';
import { dropSeqThrough, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../wire/seq.js';

/**
 * What one send buffer costs beyond its payload: Linux 6.18's skb->truesize of an skb
 * allocated for TCP data (SKB_TRUESIZE of the small-head cache's object: 320 bytes of head
 * room, 256 of struct sk_buff, 320 of skb_shared_info, x86-64).
 */
export const SKB_OVERHEAD = 896;
/** Linux GSO_LEGACY_MAX_SIZE: the largest send buffer (sk_gso_max_size). */
const GSO_MAX_BYTES = 65_536;
/** Linux TCP_MSS_DEFAULT: below it the size goal is the whole window, not half. */
const TCP_MSS_DEFAULT = 536;
/** Room the byte ring keeps beyond SO_SNDBUF: the last buffers may pass it by up to two size goals. */
export const LINUX_RING_SLACK = 2 * GSO_MAX_BYTES;

interface SndbufTcb {
  /** Linux's sk_sndbuf: payload plus SKB_OVERHEAD per buffer, what the queue may reach. */
  wmemLimit?: number;
  /** The end sequence number of each buffer in the send queue, ascending; the first starts at sndBufSeq. */
  skbEnds?: number[];
}

function sb(tcb: Tcb): SndbufTcb {
  return tcb as unknown as SndbufTcb;
}

/** Is the connection on Linux's accounting (profile 'linux')? */
export function linuxAccounting(tcb: Tcb): boolean {
  return sb(tcb).wmemLimit !== undefined;
}

/** Profile 'linux': a new connection's SO_SNDBUF, `bytes` counted as Linux counts. */
export function setLinuxSndbuf(tcb: Tcb, bytes: number): void {
  sb(tcb).wmemLimit = bytes;
}

/** SO_SNDBUF in force (Linux's sk_sndbuf), or undefined outside profile 'linux'. */
export function linuxSndbuf(tcb: Tcb): number | undefined {
  return sb(tcb).wmemLimit;
}

/** Linux's sk_wmem_queued: the bytes queued plus each buffer's overhead. */
export function wmemQueued(tcb: Tcb): number {
  const ends = sb(tcb).skbEnds;
  return tcb.sndBuf.length + (ends?.length ?? 0) * SKB_OVERHEAD;
}

/** Room in the send buffer: SO_SNDBUF less sk_wmem_queued under 'linux', else the ring's free bytes. */
export function sendRoom(tcb: Tcb): number {
  const limit = sb(tcb).wmemLimit;
  return limit === undefined ? tcb.sndBuf.free : Math.max(0, limit - wmemQueued(tcb));
}

/** Linux's tcp_xmit_size_goal: half the peer's largest window (whole MSS, at least one), at most 64 KB. */
export function sizeGoal(tcb: Tcb): number {
  const mss = tcb.sndMss;
  const maxWnd = tcb.maxSndWnd;
  const cutoff = maxWnd > TCP_MSS_DEFAULT ? maxWnd >>> 1 : maxWnd;
  const bound = cutoff > 0 && GSO_MAX_BYTES > cutoff ? cutoff : GSO_MAX_BYTES;
  return Math.max(Math.floor(bound / mss) * mss, mss);
}

/**
 * SEND under Linux's accounting: take what `bytes` Linux's tcp_sendmsg would queue before it
 * has to wait, `notSentLowat` being TCP_NOTSENT_LOWAT (0: none); `push` sends what may go
 * now (it runs when a buffer fills, as Linux pushes full buffers inside a write). Returns how
 * many bytes were taken.
 */
export function linuxQueue(tcb: Tcb, bytes: Uint8Array, notSentLowat: number, push: () => void): number {
  const t = sb(tcb);
  const ends = (t.skbEnds ??= []);
  let taken = 0;
  while (taken < bytes.length) {
    const goal = sizeGoal(tcb);
    const end = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
    const start = ends.length > 1 ? ends[ends.length - 2]! : tcb.sndBufSeq;
    // The last buffer takes more while unsent, not full, and not the end of a record.
    const tailOpen = ends.length > 0 && seqGe(start, tcb.sndMax) && !endsRecordAt(tcb, end);
    let room = tailOpen ? goal - seqDiff(end, start) : 0;
    const fresh = room <= 0;
    if (fresh) {
      // sk_stream_memory_free: a new buffer only below SO_SNDBUF and TCP_NOTSENT_LOWAT.
      if (wmemQueued(tcb) >= t.wmemLimit! || (notSentLowat > 0 && seqDiff(end, tcb.sndNxt) >= notSentLowat)) break;
      ends.push(end);
      room = goal;
    }
    const k = tcb.sndBuf.write(bytes.subarray(taken, taken + Math.min(room, bytes.length - taken)));
    if (k === 0) {
      // The byte ring is full: an empty buffer is not kept (tcp_remove_empty_skb).
      if (fresh) ends.pop();
      break;
    }
    taken += k;
    const newEnd = seqAdd(end, k);
    ends[ends.length - 1] = newEnd;
    if (taken === bytes.length) break;
    const bufStart = ends.length > 1 ? ends[ends.length - 2]! : tcb.sndBufSeq;
    // A full buffer is sent at once (tcp_push_one / __tcp_push_pending_frames).
    if (seqDiff(newEnd, bufStart) >= goal) push();
  }
  if (ends.length === 0) delete t.skbEnds;
  return taken;
}

function endsRecordAt(tcb: Tcb, end: number): boolean {
  const ends = (tcb as unknown as { recordEnds?: number[] }).recordEnds;
  return ends !== undefined && ends.includes(end);
}

/**
 * A data segment [seq, end) went out. Linux sends a chunk as one buffer, growing the first
 * with the bytes of those after it (tcp_grow_skb, which frees a buffer it empties) and
 * splitting the one the chunk ends in: the buffers of a chunk become one, and `ends` (a
 * chunk's or a write's end marked by PSH, or a retransmission) splits after it.
 */
export function noteChunkSegment(tcb: Tcb, seq: number, end: number, goesOn: boolean, ends: boolean): void {
  const list = sb(tcb).skbEnds;
  if (list === undefined) return;
  for (let i = list.length - 1; i >= 0; i--) {
    const e = list[i]!;
    if (seqLt(e, end) && (seqGt(e, seq) || (goesOn && e === seq))) list.splice(i, 1);
  }
  if (ends) splitAt(tcb, end);
}

/**
 * Data up to `seq` went out and more of its buffer did not: Linux splits the buffer there
 * (tso_fragment, tcp_fragment), and the second half costs one more overhead.
 */
export function splitAt(tcb: Tcb, seq: number): void {
  const ends = sb(tcb).skbEnds;
  if (ends === undefined) return;
  let i = 0;
  while (i < ends.length && seqLe(ends[i]!, seq)) i++;
  if (i === ends.length || ends[i - 1] === seq) return;
  const start = i > 0 ? ends[i - 1]! : tcb.sndBufSeq;
  if (seqGt(seq, start)) ends.splice(i, 0, seq);
}

/** An ACK moved SND.UNA: buffers wholly acknowledged are freed (tcp_clean_rtx_queue). */
export function freeAcked(tcb: Tcb): void {
  const t = sb(tcb);
  if (t.skbEnds !== undefined && dropSeqThrough(t.skbEnds, tcb.sndUna)) delete t.skbEnds;
}

/** The end of an output burst: the buffer the last segment came from is split after it. */
export function noteBurstEnd(ctx: Ctx, tcb: Tcb): void {
  if (ctx.cfg.profile !== 'linux' || !linuxAccounting(tcb)) return;
  if (seqLt(tcb.sndUna, tcb.sndNxt)) splitAt(tcb, tcb.sndNxt);
}
