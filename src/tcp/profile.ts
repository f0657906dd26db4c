/**
 * Profile 'linux' (StackConfig.profile): Linux's choices where the RFCs allow more than one
 * (docs/conformance.md, "Profiles"). Each function is a no-op under profile 'rfc', whose
 * choices stay in sender.ts / receiver.ts / connection.ts; the state they keep lives in
 * optional TCB fields that exist only under 'linux', so an 'rfc' stack's snapshots and
 * state hashes are what they were before profiles existed.
 *
 * Not here: the RTO floor on the variance term (rto.ts), one MSS of slow-start credit per
 * acknowledged segment (cc/common.ts), half-open connections dropped silently when their
 * listener closes (listener.ts).
 */
import type { ResolvedConfig } from './config.js';
import { Timer } from './timers.js';
import { ourMss, type Ctx, type Tcb } from './tcb.js';
import { seqAdd, seqGt, seqLe } from '../wire/seq.js';

/** Write ends remembered per connection at most; beyond, the oldest are forgotten. */
export const MAX_PUSH_POINTS = 4096;
/** Linux GSO_LEGACY_MAX_SIZE: the most one send chunk holds. */
const GSO_MAX_BYTES = 65_536;

/** The TCB fields only profile 'linux' uses (absent under 'rfc'). */
interface LinuxTcb {
  /** Sequence numbers just after the end of each write, not yet acknowledged; ascending. */
  pushSeqs?: number[];
  /** New segments sent since the last send chunk ended, in this output burst. */
  chunkSegs?: number;
  /** Interactive ("pingpong") mode: quick ACKs are off (Linux inet_csk_in_pingpong_mode). */
  pingpong?: boolean;
  /** The SRTT Linux's pacing rate sees (µs): sampled on every ACK, not once a flight. */
  paceSrttUs?: number;
}

function linux(tcb: Tcb): LinuxTcb {
  return tcb as unknown as LinuxTcb;
}

/**
 * How many segments Linux sends as one chunk (one TSO/GSO packet): what its pacing rate
 * sends in about a millisecond (tcp_tso_autosize: rate / 1024 bytes, plus 64 KB halved per
 * 512 µs of RTT, at most 64 KB), at least tcp_min_tso_segs (config minTsoSegs, 2 by default). The pacing rate is 2 times
 * (slow start) or 1.2 times cwnd per SRTT.
 */
export function chunkSegments(tcb: Tcb, minTsoSegs = 2): number {
  const mss = tcb.sndMss;
  const srtt = linux(tcb).paceSrttUs ?? tcb.rto.srttUs;
  let bytes = GSO_MAX_BYTES;
  if (srtt > 0) {
    const cwndSegs = Math.max(1, Math.floor(tcb.cc.cwnd / mss));
    const ratio = tcb.cc.cwnd < tcb.cc.ssthresh / 2 ? 200 : 120;
    bytes = Math.floor((mss * cwndSegs * ratio * 10_000) / srtt / 1024);
    const shift = Math.floor(srtt / 512);
    if (shift < 32) bytes += Math.floor(GSO_MAX_BYTES / 2 ** shift);
    bytes = Math.min(bytes, GSO_MAX_BYTES);
  }
  return Math.max(Math.floor(bytes / mss), minTsoSegs);
}

/**
 * An ACK moved SND.UNA past segments sent once and not SACKed before: Linux takes an RTT
 * sample from the oldest of them on every such ACK (tcp_clean_rtx_queue, Karn's rule kept:
 * RFC 6298 §3 asks for at least one sample a round trip, more are allowed) and smooths it
 * (1/8, RFC 6298 (2.3)). Profile 'linux' uses that SRTT only to size its send chunks
 * (chunkSegments, so PSH placement); the RTO keeps the stack's own.
 */
export function notePaceRtt(cfg: ResolvedConfig, tcb: Tcb, oldestXmitUs: number, nowUs: number): void {
  if (cfg.profile !== 'linux' || oldestXmitUs < 0 || tcb.rto.srttUs < 0) return;
  const t = linux(tcb);
  const sample = Math.max(1, nowUs - oldestXmitUs);
  const prev = t.paceSrttUs ?? tcb.rto.srttUs;
  t.paceSrttUs = Math.round(prev + (sample - prev) / 8);
}

/**
 * A write() queued bytes up to `end`. RFC 9293 §3.9.1 leaves PSH to the sender ("A sending
 * TCP is allowed to collapse data from a sequence of SEND calls ... and MAY set PSH"; RFC
 * 1122 4.2.2.2); Linux marks the end of each write (tcp_push) but not of one with MSG_MORE
 * (`more`), and a write that goes on filling a chunk not yet sent clears the mark the
 * previous write left on it.
 */
export function noteWriteEnd(cfg: ResolvedConfig, tcb: Tcb, end: number, more = false): void {
  if (cfg.profile !== 'linux') return;
  dropUnsentWriteEnd(tcb);
  if (!more) notePush(tcb, end);
}

/** A write begins: the mark the previous write left on data not yet sent is cleared (Linux tcp_sendmsg). */
export function dropUnsentWriteEnd(tcb: Tcb): void {
  const points = (linux(tcb).pushSeqs ??= []);
  if (points.length > 0 && seqGt(points[points.length - 1]!, tcb.sndMax)) points.pop();
}

/** Profile 'linux': the segment that ends at `end` carries PSH (a write's end, or Linux's forced_push). */
export function notePush(tcb: Tcb, end: number): void {
  const points = (linux(tcb).pushSeqs ??= []);
  if (points.length > 0 && !seqGt(end, points[points.length - 1]!)) return;
  points.push(end);
  if (points.length > MAX_PUSH_POINTS) points.splice(0, points.length - MAX_PUSH_POINTS);
}

/** An output burst begins (sender.ts output): send chunks are counted from here. */
export function beginBurst(tcb: Tcb): void {
  const t = linux(tcb);
  if (t.chunkSegs !== undefined) t.chunkSegs = 0;
}

/** Profile 'linux': has the current send chunk begun (the next new segment goes on with it)? */
export function inChunk(tcb: Tcb): boolean {
  return (linux(tcb).chunkSegs ?? 0) > 0;
}

/**
 * Profile 'linux': does a new segment [seq, seq + len) carry PSH? Linux sends what a burst
 * allows in chunks (one TSO/GSO packet each) of chunkSegments() segments, but never more
 * than half the cwnd in one (tcp_cwnd_test). The last segment of a chunk of that size
 * carries PSH when the chunk has two segments or more, and so does the segment that ends a
 * write; a chunk cut short by the window or by what is left of cwnd does not, and neither
 * does a one-segment chunk (as observed on Linux 6.18 through the linux conformance target:
 * google's slow_start and cubic scripts show both).
 */
export function linuxPsh(ctx: Ctx, tcb: Tcb, seq: number, len: number): boolean {
  if (ctx.cfg.profile !== 'linux' || len === 0) return false;
  const t = linux(tcb);
  const count = (t.chunkSegs ?? 0) + 1;
  const halfCwnd = Math.max(1, Math.floor(tcb.cc.cwnd / tcb.sndMss) >> 1);
  const limit = Math.min(chunkSegments(tcb, ctx.cfg.minTsoSegs), halfCwnd);
  const full = count >= limit;
  t.chunkSegs = full ? 0 : count;
  return endsWrite(tcb, seq, len) || (full && limit >= 2);
}

/**
 * Profile 'linux': does the segment [seq, seq + len) end a write? Write ends at or below
 * SND.UNA are forgotten here (a retransmission keeps its PSH, as Linux resends the skb).
 */
export function endsWrite(tcb: Tcb, seq: number, len: number): boolean {
  const points = linux(tcb).pushSeqs;
  if (points === undefined || len === 0) return false;
  let drop = 0;
  while (drop < points.length && seqLe(points[drop]!, tcb.sndUna)) drop++;
  if (drop > 0) points.splice(0, drop);
  const end = seqAdd(seq, len);
  return points.some((p) => seqGt(p, seq) && seqLe(p, end));
}

/**
 * Data went out. RFC 1122 4.2.3.2 leaves the delayed-ACK policy to the implementation;
 * Linux (tcp_event_data_sent) calls a connection interactive when it sends within the
 * delayed-ACK time of the last data it received, and then delays its ACKs (no quick ACKs).
 */
export function noteDataSent(ctx: Ctx, tcb: Tcb): void {
  if (ctx.cfg.profile !== 'linux' || tcb.lastDataUs < 0) return;
  if (ctx.now - tcb.lastDataUs < ctx.cfg.delayedAckMs * 1000) linux(tcb).pingpong = true;
}

/** Quick ACKs apply (receiver.ts): some are left and, under 'linux', the connection is not interactive. */
export function quickAckMode(tcb: Tcb): boolean {
  return tcb.quickAcks > 0 && linux(tcb).pingpong !== true;
}

/** The delayed-ACK timer fired: Linux leaves interactive mode (its guess was wrong: nothing piggybacked the ACK). */
export function delayedAckFired(tcb: Tcb): void {
  const t = linux(tcb);
  if (t.pingpong === true) t.pingpong = false;
}

/**
 * The peer's FIN moved ESTABLISHED to CLOSE-WAIT. RFC 9293 §3.10.7.4 (eighth step) asks for
 * an ACK of the FIN without saying when; Linux (tcp_fin) enters interactive mode and delays
 * that ACK by the delayed-ACK time, or sends it at once when no data ever arrived (its ATO
 * is still 0) or when the FIN came with a filled gap (RFC 5681 §4.2 asks for an immediate
 * ACK then, as Linux's ICSK_ACK_NOW), or when more than two segments' worth is
 * unacknowledged, the FIN included (RFC 1122 4.2.3.2: at least every second full-sized
 * segment is ACKed; the segment size Linux counts is at most our MSS, its advmss). Linux
 * 6.18's own rule (__tcp_ack_snd_check) is more than one segment and a window that does not
 * shrink; as observed through the linux conformance target, a FIN with 1000 or 2000 bytes
 * after 1000 read waits, one with 10000 goes at once, which this rule follows. Returns
 * true when the ACK is delayed (profile 'linux' only).
 */
export function delayFinAck(ctx: Ctx, tcb: Tcb, gapFilled: boolean): boolean {
  if (ctx.cfg.profile !== 'linux') return false;
  linux(tcb).pingpong = true;
  if (gapFilled || tcb.lastDataUs < 0 || ctx.cfg.delayedAckMs === 0) return false;
  if (tcb.pendingAckBytes + 1 > 2 * Math.min(tcb.rcvMssSeen, ourMss(ctx.cfg, tcb))) return false;
  if (tcb.timers[Timer.DelayedAck]! < 0) tcb.timers[Timer.DelayedAck] = ctx.now + ctx.cfg.delayedAckMs * 1000;
  return true;
}

/**
 * The peer's FIN arrived in sequence. RFC 2018 §4 and RFC 2883 §4 let a receiver report
 * (D-)SACK blocks, not oblige it; Linux (tcp_fin, tcp_sack_reset) forgets them at the FIN,
 * so the ACK of a FIN that repeats data carries no D-SACK. Profile 'linux' only.
 */
export function finClearsSack(ctx: Ctx, tcb: Tcb): void {
  if (ctx.cfg.profile !== 'linux') return;
  if (tcb.dsack.length > 0) tcb.dsack = [];
  if (tcb.sackRecent.length > 0) tcb.sackRecent = [];
}

/**
 * A read took bytes while an ACK was being delayed. RFC 1122 4.2.3.2 only bounds the delay;
 * Linux (tcp_cleanup_rbuf) sends the delayed ACK at once when more than one segment's worth
 * is unacknowledged, or when the read emptied the buffer and what waits is a short segment
 * (outside interactive mode). Returns true when the ACK should go now.
 */
export function readFlushesAck(cfg: ResolvedConfig, tcb: Tcb, copied: number): boolean {
  if (cfg.profile !== 'linux' || copied === 0 || tcb.timers[Timer.DelayedAck]! < 0) return false;
  const pending = tcb.pendingAckBytes;
  if (pending > tcb.rcvMssSeen) return true;
  return pending > 0 && pending < tcb.rcvMssSeen && tcb.rcvBuf.length === 0 && linux(tcb).pingpong !== true;
}
