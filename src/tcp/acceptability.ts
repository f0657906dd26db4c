/**
 * RFC 9293 §3.10.7.4 first step for a TCB in a synchronized state (or SYN-RECEIVED): what
 * comes before the acceptability test (PAWS, a retransmitted FIN in TIME-WAIT, a repeated
 * SYN in SYN-RECEIVED), the test itself, the answer to an unacceptable segment, and the
 * trimming of an acceptable one to the receive window. The steps after it are in
 * connection.ts, which calls these two entry points in that order.
 */
import { challengeAck } from './challenge.js';
import { rcvWnd } from './receiver.js';
import { noteDuplicate } from './sackblocks.js';
import { sendSyn } from './sender.js';
import type { Ctx, Tcb } from './tcb.js';
import { pawsRejects } from './timestamps.js';
import { Timer } from './timers.js';
import { seqAdd, seqDiff, seqInRange, seqLe, seqLt } from '../wire/seq.js';
import { TCP_ACK, TCP_RST, type TcpSegment } from '../wire/tcp.js';

const EMPTY = new Uint8Array(0);

/** What is left of a segment to process: the first step trims its text, SYN and FIN to the window. */
export interface Arriving {
  seq: number;
  syn: boolean;
  fin: boolean;
  data: Uint8Array;
}

/**
 * What comes before the acceptability test: PAWS, a retransmitted FIN in TIME-WAIT, a
 * repeated SYN in SYN-RECEIVED. True when that is the end of the segment.
 */
export function beforeSequenceCheck(ctx: Ctx, tcb: Tcb, seg: TcpSegment, a: Arriving, ts: { val: number } | undefined): boolean {
  const rst = (seg.flags & TCP_RST) !== 0;
  // RFC 7323 §5.3 R1 (PAWS), before the acceptability test: a non-RST segment whose
  // timestamp is older than TS.Recent is acknowledged and dropped.
  if (ts !== undefined && !rst && pawsRejects(tcb, ts.val, ctx.now)) {
    tcb.ackNow = true;
    ctx.drop('paws');
    return true;
  }
  if (tcb.state === 'TIME-WAIT' && !rst && a.fin && !a.syn && seqAdd(a.seq, a.data.length + 1) === tcb.rcvNxt) {
    // RFC 9293 §3.10.7.4 eighth step, TIME-WAIT: a retransmission of the remote FIN.
    // Acknowledge it and restart the 2 MSL timeout.
    ctx.stats.duplicateSegments++;
    tcb.ackNow = true;
    tcb.timers[Timer.Close] = ctx.now + 2 * ctx.cfg.mslMs * 1000;
    return true;
  }
  if (tcb.state === 'SYN-RECEIVED' && a.syn && !rst && a.seq === tcb.irs) {
    if (!(seg.flags & TCP_ACK)) {
      // The peer retransmitted its SYN: our SYN-ACK was lost. Send it again now (as Linux).
      sendSyn(ctx, tcb, true);
      return true;
    }
    // Simultaneous open: the peer's SYN-ACK repeats the SYN we already have (RFC 9293
    // Figure 8, line 6); take it as an ACK at IRS+1.
    a.syn = false;
    a.seq = seqAdd(a.seq, 1);
  }
  return false;
}

/**
 * RFC 9293 §3.10.7.4 first step: the acceptability test, then the segment trimmed to the
 * window (in `a`). False when it is not acceptable (and was answered or dropped).
 */
export function sequenceCheck(ctx: Ctx, tcb: Tcb, a: Arriving, rst: boolean): boolean {
  const wnd = rcvWnd(tcb);
  const segLen = a.data.length + (a.syn ? 1 : 0) + (a.fin ? 1 : 0);
  const rcvEnd = seqAdd(tcb.rcvNxt, wnd);
  const seq = a.seq;
  let acceptable: boolean;
  if (segLen === 0) acceptable = wnd === 0 ? seq === tcb.rcvNxt : seqInRange(seq, tcb.rcvNxt, rcvEnd);
  else acceptable = wnd > 0 && (seqInRange(seq, tcb.rcvNxt, rcvEnd) || seqInRange(seqAdd(seq, segLen - 1), tcb.rcvNxt, rcvEnd));
  if (!acceptable) {
    if (wnd === 0 && seq === tcb.rcvNxt && !rst && !a.syn) {
      // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
      // should be made to accept valid ACKs, URGs, and RSTs": process the control part.
      // A bare FIN at RCV.NXT is kept too (it takes no buffer space; Linux does the same),
      // so a receiver that is not reading does not make the sender's FIN time out.
      a.fin = a.fin && a.data.length === 0;
      a.data = EMPTY;
      tcb.ackNow = true;
    } else {
      unacceptable(ctx, tcb, a, rst, segLen);
      return false;
    }
  }
  trimToWindow(ctx, tcb, a, rst, rcvEnd);
  return true;
}

/** RFC 9293 §3.10.7.4 first step: a segment outside the window. */
function unacceptable(ctx: Ctx, tcb: Tcb, a: Arriving, rst: boolean, segLen: number): void {
  if (a.syn && !rst && tcb.state !== 'SYN-RECEIVED') {
    // RFC 5961 §4.2: a SYN in a synchronized state, "irrespective of the sequence
    // number", gets a challenge ACK (rate-limited, §7), as in Linux.
    challengeAck(ctx, tcb);
    ctx.drop('syn-ignored');
    return;
  }
  if (!rst) {
    tcb.ackNow = true; // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    if (seqLe(seqAdd(a.seq, segLen), tcb.rcvNxt)) {
      ctx.stats.duplicateSegments++;
      // RFC 2883 §4: a duplicate below RCV.NXT is reported in a D-SACK block.
      if (a.data.length > 0) noteDuplicate(ctx, tcb, a.seq, seqAdd(a.seq, a.data.length));
    }
  }
  ctx.drop(rst ? 'rst-ignored' : 'unacceptable-segment');
}

/** RFC 9293 §3.10.7.4 first step: keep only what lies in the window. */
function trimToWindow(ctx: Ctx, tcb: Tcb, a: Arriving, rst: boolean, rcvEnd: number): void {
  // Drop what precedes RCV.NXT (a SYN there included) ...
  if (seqLt(a.seq, tcb.rcvNxt)) {
    let skip = seqDiff(tcb.rcvNxt, a.seq);
    if (a.syn) {
      a.syn = false;
      skip--;
      a.seq = seqAdd(a.seq, 1);
    }
    const skipData = Math.min(skip, a.data.length);
    if (skipData > 0) {
      if (!rst) noteDuplicate(ctx, tcb, a.seq, seqAdd(a.seq, skipData)); // RFC 2883 §4: partly duplicate
      a.data = a.data.subarray(skipData);
      a.seq = seqAdd(a.seq, skipData);
      ctx.stats.duplicateSegments++;
    }
  }
  // ... and what lies beyond the right edge (a FIN after trimmed data goes too).
  const room = seqDiff(rcvEnd, a.seq);
  if (a.data.length > room) {
    a.data = a.data.subarray(0, Math.max(0, room));
    a.fin = false;
  }
}
