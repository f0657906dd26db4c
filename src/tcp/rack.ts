/**
 * RACK, the time-based loss detection of RFC 8985 (§6), on SACK connections. Every data
 * segment in flight has a record with its transmit time (RFC 8985 §5.2 Segment.xmit_ts)
 * and flags; an ACK that delivers segments (cumulatively or by SACK) moves RACK.xmit_ts /
 * RACK.end_seq to the most recently sent of them, and every segment sent "before" it
 * (RACK_sent_after) that has not been delivered within RACK.rtt + RACK.reo_wnd is lost.
 * The records replace RFC 6675's IsLost () when RACK is on: pipe and NextSeg () read the
 * LOST marks (recovery.ts), and a lost retransmission is detected like any other loss.
 *
 * State is plain data (integers, µs), part of the TCB, so it snapshots and replicates.
 */
import type { Tcb } from './tcb.js';
import { tsNow } from './timestamps.js';
import { DUP_THRESH } from './sack-scoreboard.js';
import { seqGt, seqLe, seqLt } from '../wire/seq.js';

/** Segment flags (RFC 8985 §5.2 Segment.retransmitted, Segment.lost; SACKed: delivered). */
export const SEG_RETRANS = 1;
export const SEG_SACKED = 2;
export const SEG_LOST = 4;
/** A retransmission sent after the segment was marked lost is in flight (Linux SACKED_RETRANS). */
export const SEG_RXT = 8;

/** One transmitted segment: [seq, end) (a FIN counts one), when it was last sent, flags. */
export interface RackSeg {
  seq: number;
  end: number;
  xmitUs: number;
  f: number;
}

export interface RackState {
  /** Segments sent and not cumulatively acknowledged, in sequence order. */
  segs: RackSeg[];
  /** RACK.xmit_ts (µs; -1: none yet) and RACK.end_seq of the most recently sent delivered segment. */
  xmitUs: number;
  endSeq: number;
  /** RACK.rtt: RTT of that segment (µs). */
  rttUs: number;
  /** RACK.min_RTT (µs, -1: none) and when it was taken (the windowed min filter, §6.2 step 1). */
  minRttUs: number;
  minRttAtUs: number;
  /** RACK.fack: the highest end_seq delivered (§6.2 step 3). */
  fack: number;
  /** RACK.reordering_seen. */
  reorderingSeen: boolean;
  /** RACK.reo_wnd_mult, RACK.reo_wnd_persist (§6.2 step 4). */
  reoWndMult: number;
  reoWndPersist: number;
  /** RACK.dsack_round as SND.NXT when it began; dsackRound false: None. */
  dsackRoundOn: boolean;
  dsackRound: number;
  /** RFC 8985 §7.1 TLP.end_seq (tlpOn false: None) and TLP.is_retrans. */
  tlpOn: boolean;
  tlpEndSeq: number;
  tlpIsRetrans: boolean;
}

/** RFC 8985 §6.2 step 1: a windowed min filter; Linux keeps 300 s (tcp_min_rtt_wlen). */
const MIN_RTT_WINDOW_US = 300_000_000;
/** RFC 8985 §6.2 step 4: the reordering window persists over 16 DSACK-free recoveries. */
const REO_WND_PERSIST = 16;

export function newRack(iss: number): RackState {
  return {
    segs: [],
    xmitUs: -1,
    endSeq: iss,
    rttUs: 0,
    minRttUs: -1,
    minRttAtUs: 0,
    fack: iss,
    reorderingSeen: false,
    reoWndMult: 1,
    reoWndPersist: REO_WND_PERSIST,
    dsackRoundOn: false,
    dsackRound: iss,
    tlpOn: false,
    tlpEndSeq: iss,
    tlpIsRetrans: false,
  };
}

/**
 * RFC 8985 §6.2 step 1: RACK.min_RTT from the RTT measurements of RFC 6298 / RFC 7323 (and
 * RACK's own from segments never retransmitted), a minimum over a window of 300 s.
 */
export function rackMinRtt(r: RackState, rttUs: number, nowUs: number): void {
  if (r.minRttUs < 0 || rttUs <= r.minRttUs || nowUs - r.minRttAtUs > MIN_RTT_WINDOW_US) {
    r.minRttUs = rttUs;
    r.minRttAtUs = nowUs;
  }
}

/** RFC 8985 §6.2 RACK_sent_after (t1, seq1, t2, seq2). */
export function sentAfter(t1: number, seq1: number, t2: number, seq2: number): boolean {
  return t1 > t2 || (t1 === t2 && seqGt(seq1, seq2));
}

/** Split the record that holds `at` strictly inside it, so that a range can start or end there. */
function splitAt(segs: RackSeg[], at: number): void {
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (seqLe(s.end, at)) continue;
    if (seqLt(s.seq, at)) {
      segs.splice(i + 1, 0, { seq: at, end: s.end, xmitUs: s.xmitUs, f: s.f });
      s.end = at;
    }
    return;
  }
}

/**
 * RFC 8985 §5.2 / §6.1: a data segment [seq, end) went out at `nowUs`: a new record, or
 * for a retransmission the records it covers get the new transmit time and
 * Segment.retransmitted (and, if they were lost, the mark that their repair is in flight).
 */
export function rackOnTransmit(r: RackState, seq: number, end: number, nowUs: number, retransmission: boolean): void {
  const segs = r.segs;
  if (!retransmission) {
    segs.push({ seq, end, xmitUs: nowUs, f: 0 });
    return;
  }
  splitAt(segs, seq);
  splitAt(segs, end);
  for (const s of segs) {
    if (seqLe(s.end, seq)) continue;
    if (!seqLt(s.seq, end)) break;
    s.xmitUs = nowUs;
    s.f |= SEG_RETRANS | SEG_RXT;
  }
}

/** RACK.segs_sacked >= DupThresh (§6.2 step 4), counting no further than that. */
function dupThreshSacked(r: RackState): boolean {
  let n = 0;
  for (const s of r.segs) if (s.f & SEG_SACKED && ++n >= DUP_THRESH) return true;
  return false;
}

/** What an ACK told RACK. */
export interface RackAck {
  una: number;
  /** TSecr when timestamps are in force. */
  tsEcr: number | undefined;
  /** The ACK carried a D-SACK block. */
  dsack: boolean;
  /** The ACK brought new SACK information. */
  newSacked: boolean;
  nowUs: number;
}

/**
 * RFC 8985 §6.2 steps 1-3 on an ACK (after the scoreboard took its SACK blocks): mark the
 * segments it delivered, drop those SND.UNA passed, update RACK.min_RTT, RACK.rtt,
 * RACK.xmit_ts / end_seq (RACK_update ()) and RACK.fack / reordering_seen
 * (RACK_detect_reordering ()), and the D-SACK round of step 4.
 */
export function rackOnAck(tcb: Tcb, a: RackAck): void {
  const r = tcb.rack;
  const segs = r.segs;
  const delivered: RackSeg[] = [];
  let drop = 0;
  while (drop < segs.length && seqLe(segs[drop]!.end, a.una)) {
    const s = segs[drop]!;
    if ((s.f & SEG_SACKED) === 0) delivered.push(s);
    drop++;
  }
  if (drop > 0) segs.splice(0, drop);
  if (segs.length > 0 && seqLt(segs[0]!.seq, a.una)) segs[0]!.seq = a.una; // cut by a cumulative ACK mid-segment
  if (a.newSacked) {
    // Segments and SACKed ranges are both sorted and the ranges disjoint and not adjacent:
    // a segment is SACKed whole when one range holds it; walk the two together.
    const sb = tcb.scoreboard;
    let k = 0;
    for (const s of segs) {
      while (k < sb.length && seqLe(sb[k]!.right, s.seq)) k++;
      if (k === sb.length) break;
      if ((s.f & SEG_SACKED) === 0 && !seqLt(s.seq, sb[k]!.left) && seqLe(s.end, sb[k]!.right)) {
        s.f = (s.f | SEG_SACKED) & ~(SEG_LOST | SEG_RXT);
        delivered.push(s);
      }
    }
  }
  // Step 2, RACK_update (): the most recently sent delivered segment whose ACK is not
  // ambiguous: a retransmitted one counts only if the ACK echoes a timestamp sent no
  // earlier than it, and its RTT is not below RACK.min_RTT (a spurious retransmission).
  let best: RackSeg | undefined;
  for (const s of delivered) {
    const rtt = a.nowUs - s.xmitUs;
    if (s.f & SEG_RETRANS) {
      if (a.tsEcr !== undefined && ((a.tsEcr - tsNow(tcb, s.xmitUs)) | 0) < 0) continue;
      if (r.minRttUs >= 0 && rtt < r.minRttUs) continue;
    } else {
      rackMinRtt(r, rtt, a.nowUs); // Karn: segments never retransmitted
    }
    if (best === undefined || sentAfter(s.xmitUs, s.end, best.xmitUs, best.end)) best = s;
  }
  if (best !== undefined) {
    r.rttUs = a.nowUs - best.xmitUs;
    if (r.xmitUs < 0 || sentAfter(best.xmitUs, best.end, r.xmitUs, r.endSeq)) {
      r.xmitUs = best.xmitUs;
      r.endSeq = best.end;
    }
  }
  // Step 3, RACK_detect_reordering (), in ascending end_seq.
  delivered.sort((x, y) => (seqLt(x.end, y.end) ? -1 : x.end === y.end ? 0 : 1));
  for (const s of delivered) {
    if (seqGt(s.end, r.fack)) r.fack = s.end;
    else if (seqLt(s.end, r.fack) && (s.f & SEG_RETRANS) === 0) r.reorderingSeen = true;
  }
  // Step 4, the D-SACK half: grow the window once per round trip that sees a D-SACK.
  if (r.dsackRoundOn && !seqLt(a.una, r.dsackRound)) r.dsackRoundOn = false;
  if (!r.dsackRoundOn && a.dsack) {
    r.dsackRoundOn = true;
    r.dsackRound = tcb.sndMax;
    r.reoWndMult++;
    r.reoWndPersist = REO_WND_PERSIST;
  }
}

/** RFC 8985 §6.2 step 4: leaving fast or RTO recovery counts down the reordering window's persistence. */
export function rackOnRecoveryExit(r: RackState): void {
  if (--r.reoWndPersist <= 0) r.reoWndMult = 1;
}

/** RFC 8985 §6.2 step 4, RACK_update_reo_wnd () (the value; the D-SACK round is kept by rackOnAck). */
export function rackReoWnd(tcb: Tcb, inRecovery: boolean): number {
  const r = tcb.rack;
  if (!r.reorderingSeen && (inRecovery || dupThreshSacked(r))) return 0;
  if (r.minRttUs < 0) return 0;
  const srtt = tcb.rto.srttUs < 0 ? 0 : tcb.rto.srttUs;
  return Math.min(Math.floor((r.reoWndMult * r.minRttUs) / 4), srtt);
}

/**
 * RFC 8985 §6.2 step 5, RACK_detect_loss (): mark lost every segment not delivered that was
 * sent before RACK.xmit_ts / end_seq and is older than RACK.rtt + RACK.reo_wnd; a lost
 * segment is not looked at again until it is retransmitted (Segment.xmit_ts =
 * INFINITE_TS), and a lost retransmission makes its segment eligible to be sent again.
 * Returns the bytes newly marked and the reordering timeout (µs, 0: none).
 */
export function rackDetectLoss(tcb: Tcb, nowUs: number, inRecovery: boolean): { lost: number; timeoutUs: number } {
  const r = tcb.rack;
  let lost = 0;
  let timeoutUs = 0;
  if (r.xmitUs < 0) return { lost, timeoutUs };
  const reoWnd = rackReoWnd(tcb, inRecovery);
  for (const s of r.segs) {
    if (s.f & SEG_SACKED || (s.f & (SEG_LOST | SEG_RXT)) === SEG_LOST) continue;
    if (!sentAfter(r.xmitUs, r.endSeq, s.xmitUs, s.end)) {
      // First transmissions go out in sequence order, so a segment never retransmitted
      // that was not sent before RACK.xmit_ts has none after it that was.
      if ((s.f & SEG_RETRANS) === 0) break;
      continue;
    }
    const remaining = s.xmitUs + r.rttUs + reoWnd - nowUs;
    if (remaining <= 0) {
      s.f = (s.f | SEG_LOST) & ~SEG_RXT;
      lost += ((s.end - s.seq) | 0) >>> 0;
    } else {
      timeoutUs = Math.max(timeoutUs, remaining);
    }
  }
  return { lost, timeoutUs };
}

/**
 * RFC 8985 §6.3 on an RTO: the retransmission timer goes back to SND.UNA and resends what
 * is not SACKed (RFC 6298 (5.4), RFC 6675 §5.1), and the SACK information is discarded
 * (RFC 2018 §8: the receiver may renege), so every record is lost and none is SACKed;
 * the TLP episode ends (§7.1).
 */
export function rackOnTimeout(r: RackState): void {
  for (const s of r.segs) s.f = (s.f | SEG_LOST) & ~(SEG_SACKED | SEG_RXT);
  r.tlpOn = false;
  r.tlpIsRetrans = false;
}

/** RFC 6675 §4 SetPipe () with RACK's marks for IsLost (): segments neither SACKed nor lost, plus the retransmissions in flight. */
export function rackPipe(r: RackState): number {
  let pipe = 0;
  for (const s of r.segs) {
    if (s.f & SEG_SACKED) continue;
    const len = ((s.end - s.seq) | 0) >>> 0;
    if ((s.f & SEG_LOST) === 0) pipe += len;
    if (s.f & SEG_RXT) pipe += len;
  }
  return pipe;
}

/** RFC 6675 §4 NextSeg () rule (1) with RACK's marks: the first lost segment not retransmitted since. */
export function rackNextLost(r: RackState): RackSeg | undefined {
  return r.segs.find((s) => (s.f & (SEG_SACKED | SEG_LOST | SEG_RXT)) === SEG_LOST);
}

/** The highest-sequence segment sent so far (RFC 8985 §7.3), or undefined. */
export function rackLastSeg(r: RackState): RackSeg | undefined {
  return r.segs[r.segs.length - 1];
}

/**
 * The send time (µs) of the oldest segment an ACK up to `ack` newly covers that was sent
 * once and not SACKed before (an RTT sample Karn's rule allows), or -1.
 */
export function rackOldestFresh(r: RackState, ack: number): number {
  for (const s of r.segs) {
    if (!seqLt(s.seq, ack)) break;
    if ((s.f & (SEG_RETRANS | SEG_SACKED)) === 0) return s.xmitUs;
  }
  return -1;
}
