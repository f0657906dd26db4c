/**
 * The receiving half of a connection: the in-order receive buffer, out-of-order
 * reassembly, the window we offer (with receiver-side SWS avoidance) and the ACK policy
 * (delayed ACKs). Nothing here transmits: it sets tcb.ackNow or arms the delayed-ACK
 * timer, and connection.ts calls the sender's output() afterwards.
 */
import { MAX_WINDOW } from './config.js';
import { quickAckMode } from './profile.js';
import { reassemblyInsert, reassemblyTake } from './reassembly.js';
import { heldOverlap, noteDuplicate, noteSackBlock } from './sackblocks.js';
import type { Ctx, Tcb } from './tcb.js';
import { Timer } from './timers.js';
import { seqAdd, seqDiff } from '../wire/seq.js';

/**
 * Free receive-buffer space a window can offer: RCV.BUFF minus what is buffered, and no
 * more than a window field can say (65535 scaled by Rcv.Wind.Shift, RFC 7323 §2.3).
 */
export function freeSpace(tcb: Tcb): number {
  return Math.min(tcb.rcvBuf.free, MAX_WINDOW * 2 ** tcb.rcvWscale);
}

/** RFC 9293 §3.8.6.2.2 / RFC 1122 4.2.3.3: the right edge moves by at least min(Fr*RCV.BUFF, Eff.snd.MSS), Fr = 1/2. */
function swsThreshold(tcb: Tcb): number {
  return Math.max(1, Math.min(Math.floor(tcb.rcvBuf.limit / 2), tcb.sndMss));
}

/**
 * The window currently offered: RCV.WND = right edge - RCV.NXT, the right edge being the
 * furthest one any segment we sent announced (RFC 7323 §2.4 rule 2: segments in window for
 * any ACK sent are honoured).
 */
export function rcvWnd(tcb: Tcb): number {
  return Math.max(0, seqDiff(tcb.rcvAdv, tcb.rcvNxt));
}

/**
 * The window field of an outgoing segment. Receiver SWS avoidance (RFC 9293 §3.8.6.2.2):
 * the right edge RCV.NXT + RCV.WND only advances once the space freed is significant, and
 * never moves left (RFC 9293 §3.8.6: shrinking the window is strongly discouraged). With
 * window scaling (RFC 7323 §2.3) the field is RCV.WND >> Rcv.Wind.Shift, rounded down: a
 * window always fits the buffer, and when RCV.NXT has moved by less than the scale unit
 * since the edge was set, the edge the peer sees retreats by less than one unit, the
 * choice RFC 7323 §2.4 allows (Linux rounds up instead, beyond the buffer); data up to the
 * old edge is still accepted (rcvAdv keeps it). A SYN or SYN-ACK window is never scaled
 * (RFC 7323 §2.2).
 */
export function advertiseWindow(tcb: Tcb, syn = false): number {
  if (syn || tcb.state === 'SYN-SENT') return Math.min(freeSpace(tcb), MAX_WINDOW);
  const shift = tcb.rcvWscale;
  const free = freeSpace(tcb);
  const cur = rcvWnd(tcb);
  if (free > cur && (cur === 0 ? free >= swsThreshold(tcb) : free - cur >= swsThreshold(tcb))) {
    const wnd = shift === 0 ? free : Math.floor(free / 2 ** shift) * 2 ** shift;
    if (wnd > cur) tcb.rcvAdv = seqAdd(tcb.rcvNxt, wnd);
  }
  return Math.min(Math.floor(rcvWnd(tcb) / 2 ** shift), MAX_WINDOW);
}

/** Start the receive side at the peer's SYN (RFC 9293 §3.10.7.2 / §3.10.7.3). */
export function receiveSyn(tcb: Tcb, seq: number): void {
  tcb.irs = seq;
  tcb.rcvNxt = seqAdd(seq, 1);
  tcb.rcvAdv = seqAdd(tcb.rcvNxt, freeSpace(tcb));
}

/**
 * RFC 9293 §3.10.7.4 seventh step: segment text, already trimmed to the window
 * (seq >= RCV.NXT). Returns true when a FIN is now in sequence (the caller runs the
 * eighth step). Sets the ACK policy: immediate ACK for out-of-order data and for data
 * that fills a gap (RFC 5681 §4.2, RFC 1122 4.2.2.21), else delayed (RFC 1122 4.2.3.2).
 */
export function receiveText(ctx: Ctx, tcb: Tcb, seq: number, data: Uint8Array, fin: boolean): boolean {
  if (data.length > tcb.rcvMssSeen) tcb.rcvMssSeen = data.length;
  if (seq !== tcb.rcvNxt) {
    ctx.stats.outOfOrderSegments++;
    let stored = true;
    if (data.length > 0) {
      // RFC 2883 §4.1.3: bytes we already hold out of order are reported in a D-SACK block.
      const dup = heldOverlap(tcb.ooo, seq, seqAdd(seq, data.length));
      if (dup !== undefined) {
        ctx.stats.duplicateSegments++;
        noteDuplicate(ctx, tcb, dup.left, dup.right);
      }
      stored = reassemblyInsert(tcb.ooo, seq, data, ctx.cfg.reassemblyLimitBytes);
      noteSackBlock(tcb, seq); // RFC 2018 §4: this segment's block goes first
    }
    if (!stored) ctx.drop('reassembly-full');
    else if (fin) tcb.ooo.finSeq = seqAdd(seq, data.length);
    tcb.ackNow = true; // a duplicate ACK tells the sender about the hole (RFC 5681 §4.2)
    tcb.dupAckNow = true;
    return false;
  }
  if (data.length > 0) enterQuickAck(ctx, tcb);
  if (data.length > 0 && tcb.ooo.segs.length > 0) {
    // RFC 2883 §4: an in-order segment that also repeats bytes held out of order is a
    // duplicate too; those bytes go in a D-SACK block (below RCV.NXT once delivered), as
    // Linux reports them (tcp_ofo_queue's tcp_dsack_extend).
    const dup = heldOverlap(tcb.ooo, seq, seqAdd(seq, data.length));
    if (dup !== undefined) {
      ctx.stats.duplicateSegments++;
      noteDuplicate(ctx, tcb, dup.left, dup.right);
    }
  }
  let delivered = 0;
  if (data.length > 0) delivered += deliver(tcb, data);
  let finNow = fin;
  let filledGap = false;
  if (tcb.ooo.segs.length > 0) {
    for (const chunk of reassemblyTake(tcb.ooo, tcb.rcvNxt)) {
      delivered += deliver(tcb, chunk);
      filledGap = true;
    }
  }
  if (tcb.ooo.finSeq >= 0 && tcb.ooo.finSeq === tcb.rcvNxt) {
    finNow = true;
    filledGap = true;
  }
  if (finNow) tcb.ooo.finSeq = -1;
  ctx.stats.bytesIn += delivered;
  if (delivered > 0) ctx.event(tcb, 'readable');
  if (filledGap) {
    tcb.ackNow = true;
  } else if (delivered > 0) {
    tcb.pendingAckBytes += delivered;
    // RFC 1122 4.2.3.2: ACK at least every second full-sized segment; otherwise delay
    // the ACK by at most delayedAckMs (< 500 ms), unless quick ACKs are left.
    if (ctx.cfg.delayedAckMs === 0 || tcb.pendingAckBytes >= 2 * tcb.rcvMssSeen || quickAckMode(tcb)) tcb.ackNow = true;
    else if (tcb.timers[Timer.DelayedAck]! < 0) tcb.timers[Timer.DelayedAck] = ctx.now + ctx.cfg.delayedAckMs * 1000;
  }
  return finNow;
}

/** Linux TCP_MAX_QUICKACKS: the most quick ACKs one start of quick-ACK mode grants. */
export const MAX_QUICK_ACKS = 16;

/**
 * Quick-ACK mode, as Linux (tcp_event_data_recv, tcp_incr_quickack; DESIGN.md: "delayed ACK
 * 40 ms with quick ACKs at connection start"): the first in-order data of a connection,
 * and the first after an idle gap longer than the RTO, grant up to 16 ACKs that are not
 * delayed (RCV.WND / (2 * receive MSS), at least 2), so that a sender in slow start is
 * not held back by delayed ACKs. Each ACK sent uses one (sender.ts transmit).
 */
function enterQuickAck(ctx: Ctx, tcb: Tcb): void {
  if (tcb.lastDataUs < 0 || ctx.now - tcb.lastDataUs > tcb.rto.rtoUs) {
    const budget = Math.min(Math.max(Math.floor(rcvWnd(tcb) / (2 * tcb.rcvMssSeen)), 2), MAX_QUICK_ACKS);
    if (budget > tcb.quickAcks) tcb.quickAcks = budget;
  }
  tcb.lastDataUs = ctx.now;
}

function deliver(tcb: Tcb, data: Uint8Array): number {
  // The window never offers more than the free buffer, so this always fits; the clamp
  // guards the invariant rather than trusting it.
  const n = tcb.rcvBuf.write(data);
  tcb.rcvNxt = seqAdd(tcb.rcvNxt, n);
  return n;
}

/**
 * RECEIVE (RFC 9293 §3.10.3): hand buffered bytes to the user. When the read opens the
 * window significantly (BSD: by two segments or half the buffer), ask for a window
 * update, so a sender stalled on a small window does not wait for its persist timer.
 * Profile 'linux' (`linuxRule`), as Linux's tcp_cleanup_rbuf: only when the window left is
 * at most half the buffer and the new one at least twice it (RFC 1122 4.2.3.3 and RFC
 * 9293 §3.8.6.2.2 say when the window may grow, not when an update must be sent).
 */
export function readData(tcb: Tcb, maxBytes: number, linuxRule = false): Uint8Array {
  const data = tcb.rcvBuf.read(maxBytes);
  if (data.length > 0 && (tcb.state === 'ESTABLISHED' || tcb.state === 'FIN-WAIT-1' || tcb.state === 'FIN-WAIT-2')) {
    const now = rcvWnd(tcb);
    const free = freeSpace(tcb);
    if (linuxRule) {
      if (2 * now <= tcb.rcvBuf.limit && free > 0 && free >= 2 * now) tcb.ackNow = true;
    } else if (free - now >= 2 * tcb.sndMss || 2 * (free - now) >= tcb.rcvBuf.limit) {
      tcb.ackNow = true;
    }
  }
  return data;
}
