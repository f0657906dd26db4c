/**
 * The sending half of a connection: the send buffer (a ByteRing from SND.UNA on, so an
 * ACK drops a prefix and never copies the rest), segmentation at the effective MSS,
 * sender SWS avoidance and Nagle (RFC 1122 4.2.3.4), retransmission on timeout
 * (RFC 6298, go-back-N from SND.UNA, skipping what the peer SACKed since), fast retransmit
 * and loss recovery (RFC 5681 §3.2 / RFC 6582 NewReno, RFC 6675 SACK: decided in
 * recovery.ts, transmitted here), RFC 3042 limited transmit, and zero-window probing
 * (RFC 9293 §3.8.6.1, RFC 1122 4.2.2.17).
 *
 * What to (re)send is decided here, apart from the state machine (connection.ts), which
 * only calls output() after every input.
 */
import { challengeAck } from './challenge.js';
import { segmentOptions, synOptions } from './options.js';
import { advertiseWindow } from './receiver.js';
import { prrOnSend } from './prr.js';
import { rackDetectLoss, rackLastSeg, rackMinRtt, rackNextLost, rackOldestFresh, rackOnAck, rackOnTransmit } from './rack.js';
import { noteRttSample } from './cc/slow-start.js';
import { beginBurst, endsWrite, inChunk, linuxPsh, noteDataSent, notePaceRtt } from './profile.js';
import { noteDataSegmentSent, restartAfterIdle } from './cc/idle-restart.js';
import { limitedAllowance, nextSeg, nextSegRack, recoveryOnAck, recoveryOnRackTimeout, recoveryOnTimeout, recoveryPipe, updateScoreboard } from './recovery.js';
import { clampToRecord, dropRecordEnds, endsRecord } from './records.js';
import { rtoBackoff, rtoReset, rtoSample } from './rto.js';
import { sbNextHole, sbTotal } from './sack-scoreboard.js';
import { sackForSegment } from './sackblocks.js';
import { freeAcked, noteBurstEnd, noteChunkSegment, sendRoom } from './sndbuf.js';
import { canSendData, finSeq, type Ctx, type Tcb } from './tcb.js';
import { tsRttUs } from './timestamps.js';
import { Timer } from './timers.js';
import { rackOn, tlpOnAck, tlpSchedule } from './tlp.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption, type TcpSegment } from '../wire/tcp.js';

/**
 * Emit one segment from the TCB. Every segment but a bare RST carries ACK = RCV.NXT and
 * the window; sending an ACK satisfies any pending (delayed) ACK. A SYN carries the
 * options given; any other segment the timestamps (and SACK blocks) in force.
 */
export function transmit(ctx: Ctx, tcb: Tcb, seq: number, flags: number, payload?: Uint8Array, options?: TcpOption[]): void {
  const hasAck = (flags & TCP_ACK) !== 0;
  const syn = (flags & TCP_SYN) !== 0;
  const window = flags & TCP_RST ? 0 : advertiseWindow(tcb, syn);
  const opts = options ?? (syn ? undefined : segmentOptions(tcb, ctx.now, sackForSegment(ctx, tcb, flags, payload?.length ?? 0)));
  ctx.transmit(tcb, {
    srcPort: tcb.localPort,
    dstPort: tcb.remotePort,
    seq,
    ack: hasAck ? tcb.rcvNxt : 0,
    flags,
    window,
    ...(opts !== undefined ? { options: opts } : {}),
    ...(payload !== undefined && payload.length > 0 ? { payload } : {}),
  });
  if (hasAck) {
    tcb.lastAckSent = tcb.rcvNxt; // RFC 7323 §4.3 Last.ACK.sent
    tcb.timers[Timer.DelayedAck] = -1;
    tcb.pendingAckBytes = 0;
    if (tcb.quickAcks > 0) tcb.quickAcks--; // receiver.ts quick-ACK mode: one ACK used
    tcb.ackNow = false;
    tcb.dupAckNow = false;
  }
}

/** A pure ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (SND.NXT being the highest sent, BSD snd_max). */
export function sendAck(ctx: Ctx, tcb: Tcb): void {
  transmit(ctx, tcb, tcb.sndMax, TCP_ACK);
}

/** RST from a synchronized connection (ABORT, RFC 9293 §3.10.5): <SEQ=SND.NXT><CTL=RST>, with ACK as Linux does. */
export function sendRst(ctx: Ctx, tcb: Tcb): void {
  transmit(ctx, tcb, tcb.sndMax, TCP_RST | TCP_ACK);
  ctx.stats.resetsSent++;
}

function startRetransmitTimer(ctx: Ctx, tcb: Tcb): void {
  if (tcb.timers[Timer.Retransmit]! < 0) tcb.timers[Timer.Retransmit] = ctx.now + tcb.rto.rtoUs;
}

/**
 * SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first transmission or retransmission
 * (counted as one unless it is the SYN-ACK of a simultaneous open).
 */
export function sendSyn(ctx: Ctx, tcb: Tcb, countRetransmit = true): void {
  const first = tcb.sndMax === tcb.iss;
  const flags = tcb.state === 'SYN-RECEIVED' ? TCP_SYN | TCP_ACK : TCP_SYN;
  transmit(ctx, tcb, tcb.iss, flags, undefined, synOptions(tcb, ctx.cfg, ctx.now));
  if (first) {
    tcb.sndNxt = tcb.sndMax = seqAdd(tcb.iss, 1);
    tcb.rttActive = true;
    tcb.rttSeq = tcb.sndMax;
    tcb.rttStartUs = ctx.now;
  } else {
    if (countRetransmit) ctx.stats.retransmits++;
    tcb.rttActive = false; // Karn
  }
  // RFC 6298 (5.1): start the timer when a segment occupying sequence space goes out.
  startRetransmitTimer(ctx, tcb);
}

/** RFC 1122 4.2.3.4: may a segment of `len` (> 0) new bytes from `seq` go now? */
function sendable(tcb: Tcb, seq: number, len: number, avail: number): boolean {
  if (len >= tcb.sndMss) return true; // a full-sized segment
  // Cut short by a record end (records.ts) with more queued behind it: it cannot grow, so
  // waiting gains nothing (Linux sends an skb that is not the queue's last at once).
  if (len < avail && endsRecord(tcb, seq, len)) return true;
  if (seqLt(tcb.sndNxt, tcb.sndMax)) return true; // retransmission (going back after an RTO)
  // TCP_CORK, a Linux socket option (no RFC has it): only full segments, or the one that
  // carries the FIN; the persist timer sends a held tail (sockopts.ts), as Linux's probe timer does.
  if (tcb.cork === true) return tcb.finQueued && len === avail;
  // All queued data fits: send if Nagle allows (no unacknowledged data) or is off.
  if (len === avail && (tcb.noDelay || tcb.sndMax === tcb.sndUna)) return true;
  // Sender SWS avoidance: at least Fs = 1/2 of the largest window the peer offered.
  if (tcb.maxSndWnd > 0 && len >= tcb.maxSndWnd / 2) return true;
  return false;
}

/**
 * Send what the windows, Nagle and SWS avoidance allow, then a pure ACK if one is still
 * due; arm or disarm the persist timer. Called after every input that may produce output.
 * `newBurst` false: this call goes on with the burst of the one before (profile 'linux':
 * the buffers a write sends as they fill, and what the write sends at its end).
 */
export function output(ctx: Ctx, tcb: Tcb, newBurst = true): void {
  switch (tcb.state) {
    case 'SYN-SENT':
    case 'SYN-RECEIVED':
      if (tcb.sndMax === tcb.iss) sendSyn(ctx, tcb);
      else if (tcb.ackNow) sendAck(ctx, tcb);
      return;
    case 'CLOSED':
    case 'LISTEN':
      return;
    default:
      break;
  }
  if (tcb.dupAckNow) sendAck(ctx, tcb);
  if (newBurst) beginBurst(tcb);
  if (canSendData(tcb.state)) sendData(ctx, tcb);
  noteBurstEnd(ctx, tcb); // profile 'linux': a buffer sent in part is split (sndbuf.ts)
  if (tcb.ackNow) sendAck(ctx, tcb);
}

function sendData(ctx: Ctx, tcb: Tcb): void {
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  if (seqGt(bufEnd, tcb.sndMax)) restartAfterIdle(ctx.cfg, tcb, ctx.now); // RFC 5681 §4.1
  const sent = tcb.rec.active && tcb.rec.sack ? sackRecoverySend(ctx, tcb) : sendWindow(ctx, tcb, bufEnd);
  // Zero-window probing / SWS deadlock avoidance: data waits, nothing is in flight to
  // bring an ACK back, so the persist timer must fire (RFC 9293 §3.8.6.1, RFC 1122 4.2.2.17).
  const waiting = seqGt(bufEnd, tcb.sndNxt);
  if (waiting && tcb.sndNxt === tcb.sndUna && tcb.timers[Timer.Retransmit]! < 0) {
    if (tcb.timers[Timer.Persist]! < 0) tcb.timers[Timer.Persist] = ctx.now + persistIntervalUs(ctx, tcb);
  } else if (sent || !waiting) {
    tcb.timers[Timer.Persist] = -1;
  }
}

/**
 * Send from SND.NXT what min(SND.WND, cwnd) allows: new data, or after an RTO the data
 * going back from SND.UNA, skipping the ranges SACKed since (RFC 6675 §5.1). Before loss
 * recovery, duplicate ACKs let limited transmit (RFC 3042, RFC 6675 §5 (2)(c)) send new
 * data beyond cwnd; those bytes are counted so that FlightSize leaves them out.
 */
function sendWindow(ctx: Ctx, tcb: Tcb, bufEnd: number): boolean {
  let sent = false;
  const allowance = limitedAllowance(tcb, rackOn(ctx, tcb));
  for (;;) {
    let holeEnd: number | undefined;
    if (seqLt(tcb.sndNxt, tcb.sndMax) && tcb.scoreboard.length > 0) {
      const hole = sbNextHole(tcb.scoreboard, tcb.sndNxt, tcb.sndMax);
      tcb.sndNxt = hole?.seq ?? tcb.sndMax;
      holeEnd = hole?.end;
    }
    const win = Math.min(tcb.sndWnd, tcb.cc.cwnd + allowance);
    const usable = win - seqDiff(tcb.sndNxt, tcb.sndUna);
    const avail = seqDiff(bufEnd, tcb.sndNxt); // -1 once the FIN went out
    let len = clampToRecord(tcb, tcb.sndNxt, Math.max(0, Math.min(tcb.sndMss, avail, usable)));
    if (holeEnd !== undefined) len = Math.min(len, seqDiff(holeEnd, tcb.sndNxt));
    // Our FIN follows the last data byte; it takes no window space, so it goes as soon as
    // everything before it has been sent (BSD does the same).
    const fin = tcb.finQueued && avail >= 0 && len === avail;
    if (len === 0 && !fin) break;
    if (len > 0 && !sendable(tcb, tcb.sndNxt, len, avail)) break;
    const fresh = tcb.sndNxt === tcb.sndMax;
    sendSegment(ctx, tcb, tcb.sndNxt, len, fin, bufEnd);
    if (fresh && allowance > 0) {
      const beyond = seqDiff(tcb.sndMax, tcb.sndUna) - tcb.cc.cwnd;
      if (beyond > 0) tcb.rec.limitedBytes += Math.min(beyond, len);
    }
    sent = true;
  }
  return sent;
}

/**
 * RFC 6675 §5 step (C): while cwnd - pipe >= 1 SMSS, send what NextSeg () returns: a lost
 * range (HighRxt advances, (C.2)), new data ((C.3)), or the rescue retransmission
 * (RescueRxt = RecoveryPoint); pipe grows by what was sent ((C.4)).
 */
function sackRecoverySend(ctx: Ctx, tcb: Tcb): boolean {
  const rec = tcb.rec;
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  const rack = rackOn(ctx, tcb);
  let pipe = recoveryPipe(tcb, rack);
  // RFC 6937: PRR's sndcnt (cwnd - pipe) is in bytes; any part of a segment lets the whole
  // segment go, and prr_out counts it, so the next ACK's sndcnt is smaller by as much.
  const room = ctx.cfg.prr ? 1 : tcb.sndMss;
  let newData = true;
  let sent = false;
  while (tcb.cc.cwnd - pipe >= room) {
    const wantNew = newData && newDataWaiting(tcb, bufEnd);
    const next = rack ? nextSegRack(tcb, wantNew) : nextSeg(tcb, wantNew);
    if (next === undefined) break;
    if (next.rule === 2) {
      const n = sendNew(ctx, tcb, bufEnd);
      if (n === 0) newData = false; // Nagle / SWS / window said no: try rules (3) and (4)
      pipe += n;
      sent ||= n > 0;
      continue;
    }
    const end = retransmitRange(ctx, tcb, next.seq, next.len);
    if (end === next.seq) break;
    if (next.rule === 4) rec.rescueRxt = rec.recover;
    else rec.highRxt = seqMax(rec.highRxt, end);
    pipe += seqDiff(end, next.seq);
    sent = true;
  }
  return sent;
}

/** Unsent data (or our FIN) and room for it in the peer's window. */
function newDataWaiting(tcb: Tcb, bufEnd: number): boolean {
  const avail = seqDiff(bufEnd, tcb.sndMax);
  if (avail < 0 || (avail === 0 && !tcb.finQueued)) return false;
  return avail === 0 || seqDiff(tcb.sndMax, tcb.sndUna) < tcb.sndWnd;
}

/** One new segment at SND.MAX if the peer's window, Nagle and SWS avoidance allow; returns the sequence space sent. */
function sendNew(ctx: Ctx, tcb: Tcb, bufEnd: number): number {
  const seq = tcb.sndMax;
  const avail = seqDiff(bufEnd, seq);
  const usable = tcb.sndWnd - seqDiff(seq, tcb.sndUna);
  const len = clampToRecord(tcb, seq, Math.max(0, Math.min(tcb.sndMss, avail, usable)));
  const fin = tcb.finQueued && avail >= 0 && len === avail;
  if ((len === 0 && !fin) || (len > 0 && !sendable(tcb, seq, len, avail))) return 0;
  sendSegment(ctx, tcb, seq, len, fin, bufEnd);
  return len + (fin ? 1 : 0);
}

function persistIntervalUs(ctx: Ctx, tcb: Tcb): number {
  const base = Math.max(tcb.rto.rtoUs, ctx.cfg.rtoMinMs * 1000);
  return Math.min(base * 2 ** Math.min(tcb.persistBackoff, 30), ctx.cfg.rtoMaxMs * 1000);
}

/** One data (and/or FIN) segment starting at `seq`; updates SND.NXT/SND.MAX, timers, RTT timing. */
function sendSegment(ctx: Ctx, tcb: Tcb, seq: number, len: number, fin: boolean, bufEnd: number, push = false): void {
  // A view into the send buffer: transmit() copies it into the packet at once.
  const payload = tcb.sndBuf.view(seqDiff(seq, tcb.sndBufSeq), len);
  const end = seqAdd(seq, len + (fin ? 1 : 0));
  let flags = TCP_ACK;
  if (fin) flags |= TCP_FIN;
  const retransmission = seqLt(seq, tcb.sndMax);
  // PSH on the segment that empties the send buffer (RFC 9293 §3.9.1); profile 'linux' on
  // those that end a write or a send chunk (profile.ts), and on what the persist timer sends.
  const chunkGoesOn = !retransmission && inChunk(tcb);
  if (ctx.cfg.profile === 'linux' ? push || (retransmission ? endsWrite(tcb, seq, len) : linuxPsh(ctx, tcb, seq, len)) : len > 0 && seqAdd(seq, len) === bufEnd) flags |= TCP_PSH;
  if (endsRecord(tcb, seq, len)) flags |= TCP_PSH; // a record's SEND is pushed (records.ts)
  transmit(ctx, tcb, seq, flags, payload);
  // Profile 'linux': Linux's buffers follow what it sends as one chunk (sndbuf.ts).
  if (len > 0) noteChunkSegment(tcb, seq, seqAdd(seq, len), chunkGoesOn, retransmission || (flags & TCP_PSH) !== 0);
  if (len > 0) {
    noteDataSent(ctx, tcb);
    noteDataSegmentSent(ctx.cfg, tcb, ctx.now);
  }
  if (retransmission) {
    ctx.stats.retransmits++;
  } else if (!tcb.rttActive) {
    tcb.rttActive = true;
    tcb.rttSeq = end;
    tcb.rttStartUs = ctx.now;
  }
  if (seq === tcb.sndNxt) tcb.sndNxt = end;
  if (seqGt(end, tcb.sndMax)) tcb.sndMax = end;
  startRetransmitTimer(ctx, tcb);
  const space = seqDiff(end, seq);
  if (tcb.rec.active && tcb.rec.sack) prrOnSend(tcb.rec, space); // RFC 6937 §3 prr_out
  if (rackOn(ctx, tcb)) {
    rackOnTransmit(tcb.rack, seq, end, ctx.now, retransmission); // RFC 8985 §5.2 Segment.xmit_ts
    if (!retransmission) tlpSchedule(ctx, tcb, true); // RFC 8985 §7.2: new data restarts the PTO
  }
}

/**
 * Retransmit up to `maxLen` of sequence space from `seq` (data, and the FIN when it falls
 * inside); returns the end of what was sent (`seq` when nothing was).
 */
function retransmitRange(ctx: Ctx, tcb: Tcb, seq: number, maxLen: number): number {
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  const finSent = tcb.finQueued && seqGt(tcb.sndMax, bufEnd);
  const len = clampToRecord(tcb, seq, Math.max(0, Math.min(maxLen, seqDiff(bufEnd, seq))));
  const fin = finSent && seqAdd(seq, len) === bufEnd && maxLen > len;
  if (len === 0 && !fin) return seq;
  tcb.rttActive = false; // Karn: no sample from anything sent before this retransmission
  sendSegment(ctx, tcb, seq, len, fin, bufEnd);
  return seqAdd(seq, len + (fin ? 1 : 0));
}

/**
 * Retransmit the first unacknowledged segment (fast retransmit, NewReno partial ACK, RFC
 * 6675 (4.3)), never into SACKed data; returns the end of what was sent.
 */
function retransmitFirst(ctx: Ctx, tcb: Tcb): number {
  const hole = sbNextHole(tcb.scoreboard, tcb.sndUna, tcb.sndMax);
  if (hole === undefined || hole.seq !== tcb.sndUna) return tcb.sndUna;
  return retransmitRange(ctx, tcb, tcb.sndUna, Math.min(tcb.sndMss, seqDiff(hole.end, hole.seq)));
}

/**
 * Retransmit the first segment RACK marked lost (RFC 8985 §6.2, the fast retransmit of
 * RFC 6675 (4.3) at the start of a RACK-detected recovery); returns the end of what was sent.
 */
function retransmitFirstLost(ctx: Ctx, tcb: Tcb): number {
  const lost = rackNextLost(tcb.rack);
  if (lost === undefined) return tcb.sndUna;
  return retransmitRange(ctx, tcb, lost.seq, seqDiff(lost.end, lost.seq));
}

/**
 * RFC 8985 §6.2 on an ACK (the scoreboard already updated): RACK's steps 1-4, then
 * RACK_detect_loss_and_arm_timer (): mark what is lost, and arm the reordering timer for
 * the segments that are not late enough yet (or stop it).
 */
function rackAck(ctx: Ctx, tcb: Tcb, tsEcr: number | undefined, dsack: boolean, newSacked: boolean): void {
  rackOnAck(tcb, { una: tcb.sndUna, tsEcr, dsack, newSacked, nowUs: ctx.now });
  rackDetectAndArm(ctx, tcb);
}

function rackDetectAndArm(ctx: Ctx, tcb: Tcb): void {
  const inRecovery = tcb.rec.active || seqLt(tcb.sndUna, tcb.rec.recover);
  const d = rackDetectLoss(tcb, ctx.now, inRecovery);
  if (d.lost > 0) ctx.stats.rackLost = (ctx.stats.rackLost ?? 0) + 1;
  tcb.timers[Timer.RackReorder] = d.timeoutUs > 0 ? ctx.now + d.timeoutUs : -1;
}

/**
 * RFC 8985 §6.2: the reordering timer expired: RACK_detect_loss_and_arm_timer () again;
 * losses it finds start recovery (the fast retransmit goes now, the rest by PRR / pipe in
 * output()), or are repaired within the recovery in progress.
 */
export function onRackTimeout(ctx: Ctx, tcb: Tcb): void {
  tcb.timers[Timer.RackReorder] = -1;
  if (!rackOn(ctx, tcb) || !canSendData(tcb.state) || tcb.sndUna === tcb.sndMax) return;
  rackDetectAndArm(ctx, tcb);
  if (recoveryOnRackTimeout(tcb, ctx.now, ctx.cfg.prr, ctx.stats) === 'enter') {
    const end = retransmitFirstLost(ctx, tcb);
    tcb.rec.highRxt = seqMax(tcb.rec.highRxt, end);
    tcb.rec.rescueRxt = end;
    tlpSchedule(ctx, tcb, false); // recovery: no probe
  }
}

/**
 * RFC 8985 §7.3: the PTO expired: send one probe, new data if there is some and the
 * peer's window takes it (cwnd and Nagle do not hold a probe back, as Linux), else a
 * retransmission of the highest-sequence segment sent; TLP.end_seq = SND.NXT. Then the
 * RTO, not the PTO, is re-armed (a failed probe leaves RTO recovery as the last resort).
 */
export function onTlpTimeout(ctx: Ctx, tcb: Tcb): void {
  tcb.timers[Timer.Tlp] = -1;
  const r = tcb.rack;
  if (!rackOn(ctx, tcb) || !canSendData(tcb.state) || tcb.sndUna === tcb.sndMax || tcb.rec.active || r.tlpOn) return;
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  const avail = seqDiff(bufEnd, tcb.sndMax);
  const usable = tcb.sndWnd - seqDiff(tcb.sndMax, tcb.sndUna);
  const len = clampToRecord(tcb, tcb.sndMax, Math.max(0, Math.min(tcb.sndMss, avail, usable)));
  r.tlpOn = true; // before sending: a probe does not restart the PTO
  r.tlpIsRetrans = false;
  if (len > 0 || (tcb.finQueued && avail === 0)) {
    sendSegment(ctx, tcb, tcb.sndMax, len, tcb.finQueued && len === avail, bufEnd);
  } else {
    const last = rackLastSeg(r);
    if (last === undefined || retransmitRange(ctx, tcb, last.seq, seqDiff(last.end, last.seq)) === last.seq) {
      r.tlpOn = false;
      return;
    }
    r.tlpIsRetrans = true;
  }
  r.tlpEndSeq = tcb.sndMax;
  ctx.stats.tlpProbes = (ctx.stats.tlpProbes ?? 0) + 1;
  tcb.timers[Timer.Retransmit] = ctx.now + tcb.rto.rtoUs;
}

/**
 * RFC 9293 §3.10.7.4 fifth step with RFC 5961 §5.2: SEG.ACK is acceptable when
 * (SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT (SND.NXT being the highest sent).
 */
export function ackAcceptable(tcb: Tcb, ack: number): boolean {
  return !seqGt(ack, tcb.sndMax) && !seqLt(ack, seqAdd(tcb.sndUna, -Math.max(tcb.maxSndWnd, 1)));
}

/**
 * RFC 9293 §3.10.7.4 fifth step, ACK processing for the synchronized states (after the
 * SYN-RECEIVED transition): update SND.UNA and the retransmission queue, RTT, congestion
 * window and send window. `segWnd` is the segment's window already scaled (RFC 7323 §2.3)
 * and `tsEcr` its TSecr when timestamps are in force. Returns false when the segment must
 * be dropped (ACK of something not yet sent, or too old per RFC 5961 §5), an ACK having
 * been scheduled.
 */
export function processAck(ctx: Ctx, tcb: Tcb, seg: TcpSegment, segWnd: number, tsEcr: number | undefined): boolean {
  const ack = seg.ack;
  if (!ackAcceptable(tcb, ack)) {
    // RFC 9293 §3.10.7.4: SEG.ACK > SND.NXT, or outside (SND.UNA - MAX.SND.WND) =< SEG.ACK
    // (RFC 5961 §5): send an ACK (a challenge ACK, rate-limited by §7), drop the segment, return.
    challengeAck(ctx, tcb);
    ctx.drop('bad-ack');
    return false;
  }
  const oldUna = tcb.sndUna;
  const flightBefore = seqDiff(tcb.sndMax, tcb.sndUna);
  if (ctx.cfg.profile === 'linux' && seqGt(ack, tcb.sndUna)) notePaceRtt(ctx.cfg, tcb, rackOldestFresh(tcb.rack, ack), ctx.now);
  // RFC 5681 §2: a duplicate ACK (judged before this segment updates the window).
  const classicDup =
    ack === tcb.sndUna &&
    seg.payload.length === 0 &&
    (seg.flags & (TCP_SYN | TCP_FIN)) === 0 &&
    segWnd === tcb.sndWnd &&
    tcb.sndMax !== tcb.sndUna;
  let acked = 0;
  let dataAcked = 0;
  if (seqGt(ack, tcb.sndUna)) {
    acked = seqDiff(ack, tcb.sndUna);
    // Remove acknowledged bytes from the retransmission queue (the front of the send buffer).
    dataAcked = Math.min(Math.max(0, seqDiff(ack, tcb.sndBufSeq)), tcb.sndBuf.length);
    if (dataAcked > 0) {
      tcb.sndBuf.drop(dataAcked);
      tcb.sndBufSeq = seqAdd(tcb.sndBufSeq, dataAcked);
    }
    tcb.sndUna = ack;
    dropRecordEnds(tcb);
    freeAcked(tcb); // profile 'linux': buffers wholly acknowledged are freed (sndbuf.ts)
    if (seqLt(tcb.sndNxt, ack)) tcb.sndNxt = ack;
    tcb.retries = 0;
    tcb.persistBackoff = 0;
    let rttUs = -1;
    if (tcb.rttActive && seqGe(ack, tcb.rttSeq)) {
      rttUs = ctx.now - tcb.rttStartUs;
      tcb.rttActive = false;
    } else if (tsEcr !== undefined) {
      // RFC 7323 §4.1 RTTM: every ACK of new data measures the RTT from the timestamp it
      // echoes, retransmissions included (§4.3 makes the echo the right one); as Linux, the
      // finer per-segment timing is preferred when it completes.
      rttUs = tsRttUs(tcb, tsEcr, ctx.now);
    }
    if (rttUs >= 0) {
      rtoSample(tcb.rto, rttUs, ctx.cfg);
      rackMinRtt(tcb.rack, Math.max(1, Math.round(rttUs)), ctx.now); // RFC 8985 §6.2 step 1
    } else rtoReset(tcb.rto, ctx.cfg); // new data acknowledged: drop any backoff (as Linux)
    noteRttSample(tcb.cc, rttUs); // RFC 9406 §4.2: HyStart++'s per-round minimum RTT
    // RFC 6298 (5.2) stop the timer when all is acknowledged, (5.3) else restart it.
    tcb.timers[Timer.Retransmit] = tcb.sndUna === tcb.sndMax ? -1 : ctx.now + tcb.rto.rtoUs;
  }
  // RFC 2018 / RFC 6675 Update (), then congestion control and loss recovery.
  const sackedBefore = tcb.sackOk ? sbTotal(tcb.scoreboard) : 0;
  const dsacksBefore = ctx.stats.dsacksReceived ?? 0;
  // Profile 'linux' counts SACK blocks in whole segments (recovery.ts segmentBlocks).
  const newSacked = updateScoreboard(tcb, seg.options, ack, ctx.stats, ctx.cfg.profile === 'linux' && rackOn(ctx, tcb));
  const sackOption = tcb.sackOk && seg.options.some((o) => o.kind === 'sack');
  const rack = rackOn(ctx, tcb);
  if (rack) rackAck(ctx, tcb, tsEcr, (ctx.stats.dsacksReceived ?? 0) > dsacksBefore, newSacked > 0);
  // RFC 6937 DeliveredData: the change in SND.UNA plus the change in bytes SACKed.
  const delivered = Math.max(acked + (tcb.sackOk ? sbTotal(tcb.scoreboard) : 0) - sackedBefore, 0);
  // RFC 8985 §7.4 before congestion control sees the ACK: a repaired tail loss reduces cwnd
  // as it stood, and this ACK's growth starts from the reduced window.
  if (rack) tlpOnAck(ctx, tcb, { ack, options: seg.options, classicDup, sackOption });
  const recAck = { ack, ackedBytes: acked, flightBefore, classicDup, sackOption, newSacked, delivered, rack, prr: ctx.cfg.prr, ...(ctx.cfg.profile === 'linux' ? { linux: true } : {}), nowUs: ctx.now };
  const action = recoveryOnAck(tcb, recAck, ctx.stats);
  if (rack) tlpSchedule(ctx, tcb, acked > 0); // RFC 8985 §7.2
  if (action !== 'none') {
    const end = rack && tcb.rec.sack ? retransmitFirstLost(ctx, tcb) : retransmitFirst(ctx, tcb);
    // RFC 6675 (4.3): HighRxt and RescueRxt = the end of the retransmitted segment.
    tcb.rec.highRxt = seqMax(tcb.rec.highRxt, end);
    if (action === 'enter') tcb.rec.rescueRxt = end;
  }
  if (tcb.wantWritable && sendRoom(tcb) > 0 && dataAcked > 0) {
    tcb.wantWritable = false;
    ctx.event(tcb, 'writable');
  }
  // RFC 9293 §3.10.7.4: if SND.UNA =< SEG.ACK =< SND.NXT, update the send window when
  // the segment is not older than the one that last updated it.
  if (seqLe(oldUna, ack) && (seqLt(tcb.sndWl1, seg.seq) || (tcb.sndWl1 === seg.seq && seqLe(tcb.sndWl2, ack)))) {
    updateWindow(tcb, seg.seq, ack, segWnd);
  }
  return true;
}

/** SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK. */
export function updateWindow(tcb: Tcb, seq: number, ack: number, window: number): void {
  tcb.sndWnd = window;
  tcb.sndWl1 = seq;
  tcb.sndWl2 = ack;
  if (window > tcb.maxSndWnd) tcb.maxSndWnd = window;
  if (window > 0) tcb.persistBackoff = 0;
}

/**
 * The retransmission timer expired (RFC 6298 (5.4)-(5.6)). Returns false when the retry
 * limit is reached (RFC 1122 4.2.3.5 R2): the caller ends the connection with ETIMEDOUT.
 */
export function onRetransmitTimeout(ctx: Ctx, tcb: Tcb): boolean {
  tcb.timers[Timer.Retransmit] = -1;
  if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED') {
    if (tcb.retries >= ctx.cfg.synRetries) return false;
    tcb.retries++;
    tcb.synTimedOut = true;
    ctx.stats.timeouts++;
    rtoBackoff(tcb.rto, ctx.cfg);
    sendSyn(ctx, tcb);
    return true;
  }
  if (!canSendData(tcb.state) || tcb.sndUna === tcb.sndMax) return true;
  if (tcb.retries >= ctx.cfg.maxRetries) return false;
  tcb.retries++;
  ctx.stats.timeouts++;
  // RFC 5681 §3.1, RFC 6582 §4, RFC 6675 §5.1 (ssthresh only on a segment's first timeout);
  // RFC 8985 §6.3 and §7.1 (rack.ts): RACK's marks and the probe episode start over.
  recoveryOnTimeout(tcb, tcb.retries === 1);
  tcb.timers[Timer.RackReorder] = -1;
  tcb.timers[Timer.Tlp] = -1;
  rtoBackoff(tcb.rto, ctx.cfg); // RFC 6298 (5.5)
  tcb.rttActive = false; // Karn
  // RFC 6298 (5.4): retransmit the earliest unacknowledged segment; go back to SND.UNA
  // and let slow start resend the rest as ACKs return.
  tcb.sndNxt = tcb.sndUna;
  sendData(ctx, tcb);
  // (5.6) the timer was restarted by the retransmission. If the peer's window is zero
  // nothing went out, and the persist timer (armed by sendData) takes over, as in BSD:
  // probes, unlike retransmissions, never give up while the peer answers them.
  return true;
}

/**
 * A new primary has just taken over this connection (a failover's go-live): retransmit the
 * first unacknowledged segment now instead of waiting for a timer that ran on the old
 * primary's schedule (RFC 9293 §3.8.1: retransmit what is not acknowledged; RFC 6298 (5.4)
 * the earliest unacknowledged segment, then (5.6) restart the timer), in the synchronized
 * states only: a handshake is left to its SYN-ACK timer and the client's SYN retransmission
 * (its connection has no handle the RSM could name). Unlike a timeout it neither backs the RTO off (5.5) nor
 * shrinks cwnd (RFC 5681 §3.1): nothing says the path lost anything; the replica did. It
 * never sends into a zero window (the persist timer probes that) nor SACKed data. Returns
 * whether a segment went out.
 */
export function retransmitAtGoLive(ctx: Ctx, tcb: Tcb): boolean {
  if (!canSendData(tcb.state) || tcb.sndUna === tcb.sndMax || tcb.sndWnd === 0) return false;
  const end = retransmitFirst(ctx, tcb);
  if (end === tcb.sndUna) return false;
  tcb.timers[Timer.Retransmit] = ctx.now + tcb.rto.rtoUs;
  return true;
}

/**
 * The persist timer expired. With a zero window, probe it: a segment the receiver must
 * answer with an ACK carrying its current window (Linux's <SEQ=SND.UNA-1>, no data; the
 * RFC 1122 4.2.2.17 probe). With a small non-zero window that SWS avoidance refused,
 * send what fits (RFC 1122 4.2.3.4 override). Back off exponentially; probes never end
 * the connection while the peer answers them (RFC 1122 4.2.2.17).
 */
export function onPersistTimeout(ctx: Ctx, tcb: Tcb): void {
  tcb.timers[Timer.Persist] = -1;
  if (!canSendData(tcb.state)) return;
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  const avail = seqDiff(bufEnd, tcb.sndNxt);
  if (avail <= 0) return;
  const usable = Math.min(tcb.sndWnd, tcb.cc.cwnd) - seqDiff(tcb.sndNxt, tcb.sndUna);
  if (usable <= 0) {
    transmit(ctx, tcb, seqAdd(tcb.sndUna, -1), TCP_ACK);
  } else {
    const len = clampToRecord(tcb, tcb.sndNxt, Math.min(tcb.sndMss, avail, usable));
    // Profile 'linux' pushes what the timer sends, as Linux's tcp_write_wakeup (RFC 9293 §3.9.1: PSH is the sender's choice).
    sendSegment(ctx, tcb, tcb.sndNxt, len, tcb.finQueued && len === avail, bufEnd, ctx.cfg.profile === 'linux');
  }
  tcb.persistBackoff++;
  if (tcb.timers[Timer.Retransmit]! < 0) tcb.timers[Timer.Persist] = ctx.now + persistIntervalUs(ctx, tcb);
}

/** SEND (RFC 9293 §3.10.2): queue bytes; returns how many the send buffer took. */
export function queueData(tcb: Tcb, bytes: Uint8Array): number {
  const n = tcb.sndBuf.write(bytes);
  if (n < bytes.length) tcb.wantWritable = true;
  return n;
}

/** Anything sent and not acknowledged, or queued and not sent. */
export function hasPendingOutput(tcb: Tcb): boolean {
  return tcb.sndUna !== tcb.sndMax || tcb.sndBuf.length > 0 || (tcb.finQueued && seqLe(tcb.sndMax, finSeq(tcb)));
}
