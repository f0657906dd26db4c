/**
 * The Tail Loss Probe of RFC 8985 §7: when an ACK is overdue (the probe timeout, PTO,
 * about two round trips), send one segment that makes the receiver answer, so that a
 * loss at the tail of a flight is detected by RACK (or repaired by the probe itself)
 * instead of waiting for the RTO. This module schedules the PTO (§7.2) and reads the
 * ACKs of a probe (§7.4); sender.ts sends the probe (§7.3). The episode state
 * (TLP.end_seq, TLP.is_retrans) lives in the RACK state (rack.ts), in the TCB.
 */
import { congestionControl } from './congestion.js';
import { canSendData, type Ctx, type Tcb } from './tcb.js';
import { Timer } from './timers.js';
import { seqGe, seqGt, seqLe, seqLt } from '../wire/seq.js';
import type { TcpOption } from '../wire/tcp.js';

/** RFC 8985 §7.2 TLP.max_ack_delay: the RECOMMENDED 200 ms (a delayed ACK's worst case). */
export const TLP_MAX_ACK_DELAY_US = 200_000;
/** RFC 8985 §7.2: PTO = 1 s before the first RTT sample. */
const PTO_NO_RTT_US = 1_000_000;

/** RACK-TLP runs on this connection: configured on and SACK in force (RFC 8985 §2, §7). */
export function rackOn(ctx: Ctx, tcb: Tcb): boolean {
  return ctx.cfg.rack && tcb.sackOk;
}

/**
 * RFC 8985 §7.2: a PTO may be scheduled when data is outstanding and the connection is
 * not in fast recovery or RTO recovery, has no SACKed data (nothing points at a loss
 * RACK could not see), and no probe of its own is outstanding (TLP.end_seq is None, §7.3).
 */
function tlpEligible(ctx: Ctx, tcb: Tcb): boolean {
  return (
    rackOn(ctx, tcb) &&
    canSendData(tcb.state) &&
    tcb.sndUna !== tcb.sndMax &&
    !tcb.rec.active &&
    !seqLt(tcb.sndUna, tcb.rec.recover) &&
    !tcb.rack.tlpOn &&
    tcb.scoreboard.length === 0
  );
}

/**
 * RFC 8985 §7.2 TLP_calc_PTO (): 2 * SRTT, plus TLP.max_ack_delay when one segment is in
 * flight (its ACK may be a delayed one); 1 s without an RTT sample; never later than the
 * RTO would fire. Returns the absolute deadline (µs).
 */
export function tlpPtoDeadline(tcb: Tcb, nowUs: number): number {
  let pto = PTO_NO_RTT_US;
  if (tcb.rto.srttUs >= 0) {
    pto = 2 * tcb.rto.srttUs;
    if (((tcb.sndMax - tcb.sndUna) | 0) <= tcb.sndMss) pto += TLP_MAX_ACK_DELAY_US;
  }
  const rtoAt = tcb.timers[Timer.Retransmit]!;
  if (rtoAt >= 0 && nowUs + pto > rtoAt) pto = Math.max(rtoAt - nowUs, 0);
  return nowUs + pto;
}

/**
 * RFC 8985 §7.2: start or restart the PTO after new data went out (not itself a probe) or
 * an ACK cumulatively acknowledged new data (`restart`); cancel it when the conditions no
 * longer hold (recovery began, something was SACKed, all is acknowledged).
 */
export function tlpSchedule(ctx: Ctx, tcb: Tcb, restart: boolean): void {
  if (!tlpEligible(ctx, tcb)) tcb.timers[Timer.Tlp] = -1;
  else if (restart || tcb.timers[Timer.Tlp]! < 0) tcb.timers[Timer.Tlp] = tlpPtoDeadline(tcb, ctx.now);
}

/** RFC 8985 §7.4.1: the ACK's D-SACK block reports the probe's segment (its right edge is TLP.end_seq). */
function dsackOfProbe(options: readonly TcpOption[], ack: number, endSeq: number): boolean {
  for (const o of options) {
    if (o.kind !== 'sack' || o.blocks.length === 0) continue;
    const b = o.blocks[0]!;
    const second = o.blocks[1];
    const dsack = seqLt(b.left, ack) || (second !== undefined && seqGe(b.left, second.left) && seqLe(b.right, second.right));
    if (dsack && b.right === endSeq) return true;
  }
  return false;
}

/** An ACK as the probe's episode sees it. */
export interface TlpAck {
  ack: number;
  options: readonly TcpOption[];
  /** A duplicate ACK by RFC 5681 §2 (no data, same ACK and window, data outstanding). */
  classicDup: boolean;
  /** The ACK carried a SACK option. */
  sackOption: boolean;
}

/**
 * RFC 8985 §7.4 TLP_process_ack (): once the ACK reaches TLP.end_seq the episode ends. A
 * probe of new data, or a retransmission the receiver reports as a duplicate (D-SACK),
 * repaired nothing. A retransmitted probe followed by an ACK beyond TLP.end_seq, or
 * answered by a duplicate ACK without SACK, repaired a single loss at the tail: a loss all
 * the same, so congestion control reduces cwnd (§7.4.2, as the first ACK of a recovery
 * would; here cwnd = ssthresh at once, as Linux's CWR state ends).
 */
export function tlpOnAck(ctx: Ctx, tcb: Tcb, a: TlpAck): void {
  const r = tcb.rack;
  if (!r.tlpOn || seqLt(a.ack, r.tlpEndSeq)) return;
  let repaired = false;
  if (!r.tlpIsRetrans || dsackOfProbe(a.options, a.ack, r.tlpEndSeq)) {
    r.tlpOn = false;
  } else if (seqGt(a.ack, r.tlpEndSeq) || (a.classicDup && !a.sackOption)) {
    r.tlpOn = false;
    repaired = true;
  }
  if (!repaired) return;
  ctx.stats.tlpLossRepairs = (ctx.stats.tlpLossRepairs ?? 0) + 1;
  if (tcb.rec.active) return; // a recovery has reduced cwnd already
  // The episode's FlightSize is long gone from SND.MAX - SND.UNA; cwnd stands for it (RFC 5681 eq. 4's basis, as Linux).
  congestionControl(tcb.cc.algorithm).onCongestion(tcb.cc, tcb.cc.cwnd, tcb.sndMss, ctx.now);
  tcb.cc.cwnd = tcb.cc.ssthresh;
}
