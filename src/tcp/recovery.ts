/**
 * Loss recovery, the same for every congestion controller:
 *  - without SACK (or when the peer sends no SACK blocks): RFC 5681 §3.2 fast retransmit /
 *    fast recovery with the RFC 6582 NewReno partial-ACK rule;
 *  - with SACK: RFC 6675 conservative SACK-based loss recovery (pipe, NextSeg, HighRxt,
 *    RescueRxt, RecoveryPoint);
 *  - RFC 3042 limited transmit before either (in sender.ts, sized by limitedAllowance()).
 * The controller (congestion.ts) only sets ssthresh when recovery starts or the timer
 * fires. This module decides; sender.ts transmits.
 */
import { congestionControl } from './congestion.js';
import { prrInit, prrSndcnt, type PrrState } from './prr.js';
import { rackNextLost, rackOnRecoveryExit, rackOnTimeout, rackPipe } from './rack.js';
import { DUP_THRESH, sbApplyOption, sbHighest, sbIsLost, sbLostEnd, sbNextHole, sbTrim, sbUnsacked } from './sack-scoreboard.js';
import type { Tcb } from './tcb.js';
import type { StackStats } from './types.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from '../wire/seq.js';
import type { SackBlock, TcpOption } from '../wire/tcp.js';

export interface RecoveryState extends PrrState {
  /** In fast recovery (RFC 5681 §3.2, RFC 6582) or SACK loss recovery (RFC 6675 §5). */
  active: boolean;
  /** The recovery in progress is RFC 6675's (pipe and NextSeg), not NewReno's. */
  sack: boolean;
  /** RFC 6582 `recover` / RFC 6675 RecoveryPoint: SND.MAX when recovery (or an RTO) began. */
  recover: number;
  /** RFC 6675 HighRxt, as the end (exclusive) of the highest retransmitted range. */
  highRxt: number;
  /** RFC 6675 RescueRxt, as an exclusive end. */
  rescueRxt: number;
  /** RFC 3042: bytes limited transmit sent beyond cwnd (not part of FlightSize, RFC 5681 §3.2 step 2). */
  limitedBytes: number;
}

export function newRecovery(iss: number): RecoveryState {
  return { active: false, sack: false, recover: iss, highRxt: iss, rescueRxt: iss, limitedBytes: 0, prrDelivered: 0, prrOut: 0, recoverFs: 0 };
}

/** Statistics this module counts (optional fields of StackStats). */
type RecoveryStats = Pick<StackStats, 'fastRecoveries' | 'sackRecoveries' | 'sackBlocksInvalid' | 'dsacksReceived'>;

function bump(stats: RecoveryStats, key: keyof RecoveryStats, n = 1): void {
  stats[key] = (stats[key] ?? 0) + n;
}

/**
 * RFC 2018 / RFC 6675 Update (): after the cumulative part of an ACK, forget what SND.UNA
 * passed and record the SACK blocks. Returns the bytes newly SACKed.
 */
export function updateScoreboard(tcb: Tcb, options: readonly TcpOption[], segAck: number, stats: RecoveryStats, wholeSegments = false): number {
  if (!tcb.sackOk) return 0;
  sbTrim(tcb.scoreboard, tcb.sndUna);
  let newBytes = 0;
  for (const o of options) {
    if (o.kind !== 'sack') continue;
    const blocks = wholeSegments ? segmentBlocks(tcb, o.blocks, segAck) : o.blocks;
    const u = sbApplyOption(tcb.scoreboard, blocks, segAck, tcb.sndUna, tcb.sndMax);
    if (u.dsack) bump(stats, 'dsacksReceived');
    if (u.invalid > 0) bump(stats, 'sackBlocksInvalid', u.invalid);
    newBytes += u.newBytes;
  }
  return newBytes;
}

/**
 * Profile 'linux': SACK blocks cut to the whole segments they cover, as Linux's
 * tcp_match_skb_to_sack marks what it sent SACKed only in whole segments (a block that
 * covers part of one leaves that segment unSACKed). RFC 2018 §5 leaves to the sender how
 * it uses the information (a SACKed segment may still be retransmitted; using less of a
 * block costs only needless retransmission). A D-SACK block (RFC 2883) is left as it is.
 * The segment edges are RACK's records (RFC 8985 §5.2); without them the blocks stand.
 */
function segmentBlocks(tcb: Tcb, blocks: readonly SackBlock[], segAck: number): readonly SackBlock[] {
  const segs = tcb.rack.segs;
  if (segs.length === 0) return blocks;
  const first = blocks[0];
  const second = blocks[1];
  const dsack = first !== undefined && (seqLt(first.left, segAck) || (second !== undefined && seqGe(first.left, second.left) && seqLe(first.right, second.right)));
  const out: SackBlock[] = [];
  blocks.forEach((b, k) => {
    if (k === 0 && dsack) {
      out.push(b);
      return;
    }
    let left: number | undefined;
    let right: number | undefined;
    for (const s of segs) {
      if (left === undefined && !seqLt(s.seq, b.left)) left = s.seq;
      if (!seqGt(s.end, b.right)) right = s.end;
    }
    // A block beyond what was sent stays whole: the scoreboard counts it invalid.
    if (seqGt(b.right, tcb.sndMax) || seqLt(b.left, tcb.sndUna)) out.push(b);
    else if (left !== undefined && right !== undefined && seqLt(left, right)) out.push({ left, right });
  });
  return out;
}

/** An ACK as loss recovery sees it. */
export interface RecoveryAck {
  ack: number;
  /** Bytes the cumulative ACK field newly acknowledged (0: not a cumulative ACK). */
  ackedBytes: number;
  /** SND.MAX - SND.UNA before this ACK. */
  flightBefore: number;
  /** A duplicate ACK by RFC 5681 §2 (no data, no SYN/FIN, same ACK and window, data outstanding). */
  classicDup: boolean;
  /** The ACK carried a SACK option (SACK being on). */
  sackOption: boolean;
  /** Bytes newly SACKed by this ACK. */
  newSacked: number;
  /** RFC 6937 DeliveredData: the change in SND.UNA plus the change in bytes SACKed. */
  delivered: number;
  /** RACK-TLP (RFC 8985) is this connection's loss detection: its LOST marks stand for IsLost (). */
  rack: boolean;
  /** RFC 6937 PRR paces SACK recovery. */
  prr: boolean;
  /** Profile 'linux': PRR-SSRB adds its MSS only when SND.UNA advances. */
  linux?: boolean;
  nowUs: number;
}

/** What the sender must do now: 'enter' and 'partial' retransmit the segment at SND.UNA. */
export type RecoveryAction = 'none' | 'enter' | 'partial';

/** Everything an ACK means for congestion control and loss recovery. */
export function recoveryOnAck(tcb: Tcb, a: RecoveryAck, stats: RecoveryStats): RecoveryAction {
  const cc = congestionControl(tcb.cc.algorithm);
  const rec = tcb.rec;
  const mss = tcb.sndMss;
  const cumulative = a.ackedBytes > 0;
  // A duplicate ACK: with a SACK option, one that brings new SACK information (RFC 6675 §2,
  // whatever else it does; a D-SACK alone is none); without, RFC 5681 §2's definition.
  const dup = a.sackOption ? a.newSacked > 0 : a.classicDup;
  // RFC 6675 §5: "If the incoming ACK is a cumulative acknowledgment, the TCP MUST reset DupAcks to zero."
  // Slow start's DeliveredData (RFC 6937). Profile 'linux' without SACK counts as Linux's
  // Reno emulation does (tcp_remove_reno_sacks): each duplicate ACK already stood for a
  // segment that left the network, so the cumulative ACK delivers only the rest, at least one.
  const delivered = a.linux === true && !tcb.sackOk && cumulative && tcb.dupAcks > 0 ? Math.max(Math.ceil(a.ackedBytes / mss) - tcb.dupAcks, 1) * mss : a.delivered;
  if (cumulative) {
    tcb.dupAcks = 0;
    rec.limitedBytes = 0;
  }
  if (rec.active) {
    if (seqGe(a.ack, rec.recover)) {
      // RFC 6675 §5 (A) / RFC 6582 §3.2 step 3 full acknowledgment: recovery ends.
      rec.active = false;
      if (a.rack) rackOnRecoveryExit(tcb.rack); // RFC 8985 §6.2 step 4
      // RFC 6582 option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). In SACK
      // recovery cwnd already is ssthresh (RFC 6675 (4.2)), and stays so.
      if (!rec.sack) tcb.cc.cwnd = Math.min(tcb.cc.ssthresh, Math.max(seqDiff(tcb.sndMax, tcb.sndUna), mss) + mss);
      else tcb.cc.cwnd = tcb.cc.ssthresh;
      return 'none';
    }
    // RFC 6675 (B): the scoreboard is updated; output() runs SetPipe () and step (C), with
    // RFC 6937 PRR deciding how much of it may go.
    if (rec.sack) {
      if (a.prr) prrOnAck(tcb, a);
      return 'none';
    }
    if (cumulative) {
      // RFC 6582 §3.2 step 3, partial acknowledgment: retransmit the first unacknowledged
      // segment, deflate cwnd by the amount acknowledged, add back one SMSS if at least
      // one SMSS was acknowledged.
      tcb.cc.cwnd = Math.max(tcb.cc.cwnd - a.ackedBytes + (a.ackedBytes >= mss ? mss : 0), mss);
      return 'partial';
    }
    // RFC 5681 §3.2 step 4: each further duplicate ACK inflates cwnd by one SMSS; but by no
    // more in all than the data outstanding can account for (a receiver sends at most one
    // duplicate ACK per segment that leaves the network). An off-path attacker can make the
    // receiver send one per blind guess (each out-of-window segment is answered with an
    // ACK, RFC 9293 §3.10.7.4), and unbounded inflation would let us burst a whole window.
    if (dup) tcb.cc.cwnd = Math.max(tcb.cc.cwnd, Math.min(tcb.cc.cwnd + mss, tcb.cc.ssthresh + DUP_THRESH * mss + Math.max(0, seqDiff(rec.recover, a.ack))));
    return 'none';
  }
  if (cumulative) {
    cc.onAck(tcb.cc, { ackedBytes: a.ackedBytes, flightBefore: a.flightBefore, mss, nowUs: a.nowUs, srttUs: tcb.rto.srttUs, deliveredBytes: delivered });
    // Once SND.UNA has passed them, keep recover / HighRxt / RescueRxt at SND.UNA, so that
    // they never fall 2^31 behind and flip in sequence-number comparisons.
    if (seqGe(tcb.sndUna, rec.recover)) rec.recover = rec.highRxt = rec.rescueRxt = tcb.sndUna;
  }
  // RFC 8985 §6.2: with SACK information, RACK's marks decide (not DupThresh); without
  // (no block ever came), duplicate ACKs as RFC 5681 §3.2.
  const rack = a.rack && tcb.scoreboard.length > 0;
  const rackLost = rack && rackNextLost(tcb.rack) !== undefined;
  if (!dup && !rackLost) return 'none';
  if (dup) tcb.dupAcks++;
  // RFC 6675 §5 step (2)(a)/(b): DupThresh duplicate ACKs, or IsLost (HighACK + 1).
  const lost = rack ? rackLost : tcb.dupAcks >= DUP_THRESH || (tcb.sackOk && sbIsLost(tcb.scoreboard, tcb.sndUna, tcb.sndUna, mss));
  if (!lost) return 'none';
  // RFC 6582 §3.2 step 1 / RFC 6675 §5.1: no new recovery until the cumulative ACK covers
  // `recover` (the highest sequence number sent when the last recovery or RTO began).
  if (seqLt(a.ack, rec.recover)) return 'none';
  enterRecovery(tcb, a.nowUs, stats, a.prr);
  if (rec.sack && a.prr) prrOnAck(tcb, a);
  return 'enter';
}

/** The bytes in flight during SACK recovery: RFC 6675 SetPipe (), IsLost () being RACK's when it runs. */
export function recoveryPipe(tcb: Tcb, rack: boolean): number {
  return rack ? rackPipe(tcb.rack) : setPipe(tcb, tcb.rec.highRxt);
}

/** RFC 6937 §3 on an ACK in SACK recovery: cwnd = pipe + sndcnt. */
function prrOnAck(tcb: Tcb, a: RecoveryAck): void {
  const pipe = recoveryPipe(tcb, a.rack);
  tcb.cc.cwnd = pipe + prrSndcnt(tcb.rec, a.delivered, pipe, tcb.cc.ssthresh, tcb.sndMss, false, a.linux !== true || a.ackedBytes > 0);
}

/**
 * RFC 8985 §6.2 with §6.3's entry into recovery when the reordering timer finds a loss
 * (no ACK arrives to bring it): start recovery as an ACK would (RFC 6675 §5 step (4)), PRR
 * counting nothing delivered. Returns 'enter' when it did.
 */
export function recoveryOnRackTimeout(tcb: Tcb, nowUs: number, prr: boolean, stats: RecoveryStats): RecoveryAction {
  const rec = tcb.rec;
  if (rec.active || tcb.scoreboard.length === 0 || seqLt(tcb.sndUna, rec.recover) || rackNextLost(tcb.rack) === undefined) return 'none';
  enterRecovery(tcb, nowUs, stats, prr);
  if (rec.sack && prr) tcb.cc.cwnd = rackPipe(tcb.rack) + prrSndcnt(rec, 0, rackPipe(tcb.rack), tcb.cc.ssthresh, tcb.sndMss);
  return 'enter';
}

/**
 * RFC 5681 §3.2 steps 2-3 / RFC 6675 §5 step (4): ssthresh from FlightSize (limited
 * transmit's segments excluded), RecoveryPoint = HighData. RFC 6675 recovery is used when
 * SACK is on and the peer has actually SACKed something (a peer that negotiates SACK and
 * sends no blocks gets NewReno, which needs none).
 */
function enterRecovery(tcb: Tcb, nowUs: number, stats: RecoveryStats, prr: boolean): void {
  const rec = tcb.rec;
  const mss = tcb.sndMss;
  bump(stats, 'fastRecoveries');
  const flight = Math.max(seqDiff(tcb.sndMax, tcb.sndUna) - rec.limitedBytes, 0);
  congestionControl(tcb.cc.algorithm).onCongestion(tcb.cc, flight, mss, nowUs);
  rec.active = true;
  rec.recover = tcb.sndMax;
  rec.limitedBytes = 0;
  rec.sack = tcb.sackOk && tcb.scoreboard.length > 0;
  rec.highRxt = tcb.sndUna;
  rec.rescueRxt = tcb.sndUna;
  // RFC 8985 §7.1: a recovery ends any tail loss probe episode.
  tcb.rack.tlpOn = false;
  tcb.rack.tlpIsRetrans = false;
  if (rec.sack) {
    bump(stats, 'sackRecoveries');
    if (prr) prrInit(rec, seqDiff(tcb.sndMax, tcb.sndUna)); // RFC 6937 §3: RecoverFS = snd.nxt - snd.una
    else tcb.cc.cwnd = tcb.cc.ssthresh; // RFC 6675 (4.2)
  } else {
    tcb.cc.cwnd = tcb.cc.ssthresh + DUP_THRESH * mss; // RFC 5681 §3.2 step 4 (RFC 6582 step 2)
  }
}

/**
 * The retransmission timer expired (RFC 5681 §3.1 / RFC 6298 (5.4)-(5.6)). RFC 6675 §5.1
 * and RFC 6582 §4: RecoveryPoint / recover = HighData, recovery ends, and no new one starts
 * until the cumulative ACK covers it. RFC 2018 §8 (which RFC 6675 §5.1 keeps): the receiver
 * may have reneged, so the SACK information gathered so far is discarded; what arrives
 * after the timeout is used (sender.ts skips it when going back).
 */
export function recoveryOnTimeout(tcb: Tcb, firstTimeout: boolean): void {
  const rec = tcb.rec;
  congestionControl(tcb.cc.algorithm).onTimeout(tcb.cc, seqDiff(tcb.sndMax, tcb.sndUna), tcb.sndMss, firstTimeout);
  rec.active = false;
  rec.sack = false;
  rec.recover = tcb.sndMax;
  rec.highRxt = tcb.sndUna;
  rec.rescueRxt = tcb.sndUna;
  rec.limitedBytes = 0;
  tcb.scoreboard = [];
  tcb.dupAcks = 0;
  rackOnTimeout(tcb.rack); // RFC 8985 §6.3, §7.1
}

/**
 * RFC 6675 §4 SetPipe (): the bytes still in the network: each unSACKed byte between
 * SND.UNA and SND.MAX counts once unless IsLost (), and once more if retransmitted (at or
 * below HighRxt). `highRxt` is SND.UNA outside recovery (RFC 6675 §5 (2)(c.1)).
 */
export function setPipe(tcb: Tcb, highRxt: number): number {
  const sb = tcb.scoreboard;
  const una = tcb.sndUna;
  const lostEnd = sbLostEnd(sb, una, tcb.sndMss);
  const rxtEnd = seqMin(seqMax(highRxt, una), tcb.sndMax);
  return sbUnsacked(sb, lostEnd, tcb.sndMax) + sbUnsacked(sb, una, rxtEnd);
}

/**
 * Bytes beyond cwnd that new data may use before recovery, while duplicate ACKs arrive:
 * RFC 3042 (one SMSS for each of the first two duplicate ACKs) without SACK information;
 * RFC 6675 §5 (2)(c) with it: what cwnd - pipe allows, i.e. the bytes SACKed (and lost).
 * (Computed once per output(); RFC 3042 and §5 (2)(c) cover new data only, and sender.ts
 * only uses it once SND.NXT = SND.MAX.)
 */
export function limitedAllowance(tcb: Tcb, rack: boolean): number {
  if (tcb.rec.active || tcb.dupAcks === 0) return 0;
  // Not while the data of an RTO is still being sent again (RFC 3042 sends new data only;
  // RFC 6675 §5.1: nothing of §5 before HighACK reaches RecoveryPoint).
  if (seqLt(tcb.sndUna, tcb.rec.recover)) return 0;
  // RFC 8985 §6.2: with RACK, duplicate ACKs beyond DupThresh are reordering until RACK
  // says otherwise, and what the receiver SACKed has left the network all the same.
  if (rack && tcb.scoreboard.length > 0) return Math.max(seqDiff(tcb.sndMax, tcb.sndUna) - rackPipe(tcb.rack), 0);
  if (tcb.dupAcks >= DUP_THRESH) return 0;
  if (tcb.sackOk && tcb.scoreboard.length > 0) return Math.max(seqDiff(tcb.sndMax, tcb.sndUna) - setPipe(tcb, tcb.sndUna), 0);
  return tcb.dupAcks * tcb.sndMss;
}

/** RFC 6675 §4 NextSeg (): the rule that chose the segment. */
export interface NextSegment {
  rule: 1 | 2 | 3 | 4;
  seq: number;
  /** Sequence space to (re)send, at most one SMSS (0 for new data: the sender sizes it). */
  len: number;
}

/**
 * RFC 6675 §4 NextSeg () with RACK (RFC 8985 §6): rule (1) is the first segment RACK marked
 * lost and not retransmitted since (so a lost retransmission is sent again), rule (2) new
 * data; rules (3) and (4) are left to RACK's timer and the tail loss probe (§7).
 */
export function nextSegRack(tcb: Tcb, newData: boolean): NextSegment | undefined {
  const lost = rackNextLost(tcb.rack);
  if (lost !== undefined) return { rule: 1, seq: lost.seq, len: Math.min(seqDiff(lost.end, lost.seq), tcb.sndMss + 1) };
  return newData ? { rule: 2, seq: tcb.sndMax, len: 0 } : undefined;
}

/** RFC 6675 §4 NextSeg (), for the sender in SACK recovery. `newData`: rule (2) may apply. */
export function nextSeg(tcb: Tcb, newData: boolean): NextSegment | undefined {
  const sb = tcb.scoreboard;
  const rec = tcb.rec;
  const una = tcb.sndUna;
  const mss = tcb.sndMss;
  const hole = sbNextHole(sb, seqMax(rec.highRxt, una), tcb.sndMax);
  const holeLen = hole === undefined ? 0 : Math.min(mss, seqDiff(hole.end, hole.seq));
  // (1) the first unSACKed range above HighRxt that IsLost () (so below the highest SACKed byte).
  if (hole !== undefined && seqLt(hole.seq, sbLostEnd(sb, una, mss))) return { rule: 1, seq: hole.seq, len: holeLen };
  // (2) new data, if any and the receiver's window allows (the sender checks both).
  if (newData) return { rule: 2, seq: tcb.sndMax, len: 0 };
  // (3) an unSACKed range above HighRxt below the highest SACKed byte, not yet deemed lost.
  const highest = sbHighest(sb);
  if (hole !== undefined && highest !== undefined && seqLt(hole.seq, highest)) return { rule: 3, seq: hole.seq, len: holeLen };
  // (4) once per recovery, after HighACK passed RescueRxt: the rescue retransmission of the
  // highest unSACKed segment ending at HighData (tail loss).
  if (seqGt(una, rec.rescueRxt) && (highest === undefined || seqLt(highest, tcb.sndMax))) {
    const seq = seqMax(seqMax(una, highest ?? una), seqAdd(tcb.sndMax, -mss));
    return { rule: 4, seq, len: seqDiff(tcb.sndMax, seq) };
  }
  return undefined;
}
