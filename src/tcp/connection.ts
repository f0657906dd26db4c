/**
 * The connection state machine: RFC 9293 §3.10 event processing for one TCB.
 * SEGMENT ARRIVES for SYN-SENT (§3.10.7.3) and the synchronized states (§3.10.7.4, step
 * by step; the first step, the acceptability test and the trim to the window, is in
 * acceptability.ts), the user calls that change state (§3.10.4 CLOSE, §3.10.5 ABORT, half-close),
 * and the timers. LISTEN and CLOSED (§3.10.7.1, §3.10.7.2) live in listener.ts, the
 * demultiplexing in the stack. What to transmit is the sender's business:
 * every entry point ends with output().
 */
import { beforeSequenceCheck, sequenceCheck, type Arriving } from './acceptability.js';
import { challengeAck } from './challenge.js';
import { negotiate } from './options.js';
import { delayedAckFired, delayFinAck, finClearsSack, readFlushesAck } from './profile.js';
import { clearReassembly } from './reassembly.js';
import { rcvWnd, readData, receiveSyn, receiveText } from './receiver.js';
import { rtoAfterSynTimeout, rtoSample } from './rto.js';
import { clampRetransmitTimer, keepAliveTimedOut, persistTimedOut, retransmitTimedOut } from './sockopts.js';
import { rackMinRtt } from './rack.js';
import { ackAcceptable, hasPendingOutput, onPersistTimeout, onRackTimeout, onRetransmitTimeout, onTlpTimeout, output, processAck, sendRst, sendSyn, transmit, updateWindow } from './sender.js';
import { canReceiveData, finAcked, type Ctx, type Tcb } from './tcb.js';
import { tsRttUs, updateTsRecent } from './timestamps.js';
import { stopAll, Timer } from './timers.js';
import type { ConnectionErrorCode } from './types.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from '../wire/tcp.js';

/** (A function, so that TypeScript does not carry a narrowed state across calls.) */
function isClosed(tcb: Tcb): boolean {
  return tcb.state === 'CLOSED';
}

/** Enter CLOSED: timers off, queues flushed on an abnormal end, the stack told. */
export function closeTcb(ctx: Ctx, tcb: Tcb, error?: ConnectionErrorCode): void {
  if (tcb.state === 'CLOSED') return;
  tcb.state = 'CLOSED';
  stopAll(tcb.timers);
  clearReassembly(tcb.ooo);
  tcb.sndBuf.clear();
  if (error !== undefined) {
    // RFC 9293 §3.10.7.4: "all segment queues should be flushed".
    tcb.rcvBuf.clear();
  }
  if (error === 'ETIMEDOUT') ctx.stats.connectionsTimedOut++;
  // RFC 1122 4.2.3.9: a soft ICMP error seen before the timeout is what the user is told (Linux's sk_err_soft).
  ctx.onClosed(tcb, error === 'ETIMEDOUT' && tcb.softError !== undefined ? tcb.softError : error);
}

function enterTimeWait(ctx: Ctx, tcb: Tcb): void {
  tcb.state = 'TIME-WAIT';
  stopAll(tcb.timers);
  // RFC 9293 §3.3.2: TIME-WAIT lasts 2 MSL.
  tcb.timers[Timer.Close] = ctx.now + 2 * ctx.cfg.mslMs * 1000;
}

/** A connection the user has closed that reaches FIN-WAIT-2 does not wait forever for the peer's FIN (Linux tcp_fin_timeout). */
function armOrphanTimeout(ctx: Ctx, tcb: Tcb): void {
  if (tcb.state === 'FIN-WAIT-2' && tcb.userClosed && tcb.timers[Timer.Close]! < 0) {
    tcb.timers[Timer.Close] = ctx.now + 2 * ctx.cfg.mslMs * 1000;
  }
}

/** <SEQ=seq><CTL=RST> from this connection's endpoint (RFC 9293 §3.10.7.3 / §3.10.7.4). */
function sendRstAt(ctx: Ctx, tcb: Tcb, seq: number): void {
  transmit(ctx, tcb, seq, TCP_RST);
  ctx.stats.resetsSent++;
}

/** SEGMENT ARRIVES for a TCB (any state but LISTEN and CLOSED). */
export function segmentArrives(ctx: Ctx, tcb: Tcb, seg: TcpSegment): void {
  if (tcb.state === 'CLOSED') return;
  if (tcb.state === 'SYN-SENT') synSentArrives(ctx, tcb, seg);
  else synchronizedArrives(ctx, tcb, seg);
  if (!isClosed(tcb)) output(ctx, tcb);
}

/** RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
function synSentArrives(ctx: Ctx, tcb: Tcb, seg: TcpSegment): void {
  const ack = (seg.flags & TCP_ACK) !== 0;
  const rst = (seg.flags & TCP_RST) !== 0;
  const syn = (seg.flags & TCP_SYN) !== 0;
  // First, check the ACK bit.
  if (ack && (seqLe(seg.ack, tcb.iss) || seqGt(seg.ack, tcb.sndMax))) {
    // SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST> unless RST is set.
    if (!rst) sendRstAt(ctx, tcb, seg.ack);
    ctx.drop(rst ? 'rst-ignored' : 'bad-ack');
    return;
  }
  // Second, check the RST bit: acceptable only if the ACK acknowledged our SYN.
  if (rst) {
    if (!ack) {
      ctx.drop('rst-ignored');
      return;
    }
    ctx.stats.resetsReceived++;
    closeTcb(ctx, tcb, 'ECONNREFUSED');
    return;
  }
  // Fifth (before the fourth, for brevity): neither SYN nor RST: drop.
  if (!syn) {
    ctx.drop(ack ? 'other' : 'no-ack-flag');
    return;
  }
  // Fourth, check the SYN bit.
  receiveSyn(tcb, seg.seq);
  negotiate(tcb, seg.options, ctx.cfg, ctx.now);
  tcb.lastRecvUs = ctx.now;
  if (ack) {
    tcb.sndUna = seg.ack;
    if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
    handshakeRtt(ctx, tcb, seg.ack, tcb.tsOk ? tsOption(seg)?.ecr : undefined);
    if (tcb.synTimedOut) rtoAfterSynTimeout(tcb.rto, ctx.cfg); // RFC 6298 (5.7)
    tcb.retries = 0;
    tcb.timers[Timer.Retransmit] = -1;
    updateWindow(tcb, seg.seq, seg.ack, seg.window);
    // Our SYN is acknowledged: ESTABLISHED (or FIN-WAIT-1 when shutdown() came first).
    tcb.state = tcb.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED';
    tcb.ackNow = true;
    ctx.onEstablished(tcb);
    // Data or a FIN on the SYN-ACK: continue at the sixth step.
    const data = seg.payload;
    const fin = (seg.flags & TCP_FIN) !== 0;
    if (data.length > 0 || fin) textAndFin(ctx, tcb, seqAdd(seg.seq, 1), data, fin, seg.ack);
    return;
  }
  // Simultaneous open (RFC 9293 §3.5, Figure 8): SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
  // Text on the SYN is not acknowledged; the peer sends it again once we are synchronized.
  tcb.state = 'SYN-RECEIVED';
  tcb.sndWnd = seg.window;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  if (seg.window > tcb.maxSndWnd) tcb.maxSndWnd = seg.window;
  sendSyn(ctx, tcb, false);
}

/** The timestamps option of a segment, if it has one. */
function tsOption(seg: TcpSegment): { val: number; ecr: number } | undefined {
  for (const o of seg.options) if (o.kind === 'ts') return o;
  return undefined;
}

/** The RTT sample of the ACK of our SYN or SYN-ACK: timed (Karn) or, failing that, from the echoed timestamp (RFC 7323 §4.1). */
function handshakeRtt(ctx: Ctx, tcb: Tcb, ack: number, tsEcr: number | undefined): void {
  let rttUs = -1;
  if (tcb.rttActive && seqGe(ack, tcb.rttSeq)) rttUs = ctx.now - tcb.rttStartUs;
  else if (tsEcr !== undefined) rttUs = tsRttUs(tcb, tsEcr, ctx.now);
  if (rttUs >= 0) {
    rtoSample(tcb.rto, rttUs, ctx.cfg);
    rackMinRtt(tcb.rack, rttUs, ctx.now); // RFC 8985 §6.2 step 1
  }
  tcb.rttActive = false;
}

/** RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED ... TIME-WAIT. */
function synchronizedArrives(ctx: Ctx, tcb: Tcb, seg: TcpSegment): void {
  const rst = (seg.flags & TCP_RST) !== 0;
  const syn = (seg.flags & TCP_SYN) !== 0;
  tcb.lastRecvUs = ctx.now;
  tcb.keepAliveProbes = 0;
  // RFC 7323 §2.3: the window of any segment but a SYN is scaled by Snd.Wind.Shift.
  const segWnd = syn ? seg.window : seg.window * 2 ** tcb.sndWscale;
  const ts = tcb.tsOk ? tsOption(seg) : undefined;
  const a: Arriving = { seq: seg.seq, syn, fin: (seg.flags & TCP_FIN) !== 0, data: seg.payload };

  if (beforeSequenceCheck(ctx, tcb, seg, a, ts)) return;
  // First, check the sequence number.
  if (!sequenceCheck(ctx, tcb, a, rst)) return;
  // Second, check the RST bit.
  if (rst) {
    rstArrives(ctx, tcb, seg);
    return;
  }
  // Third, security: not implemented (no IPsec / compartments).
  // Fourth, check the SYN bit.
  if (a.syn) {
    synArrives(ctx, tcb);
    return;
  }
  // Fifth, check the ACK field.
  if (!ackArrives(ctx, tcb, seg, segWnd, ts)) return;
  // Sixth, the URG bit: ignored (RFC 9293 §3.8.5 urgent data is not supported).
  // Seventh and eighth: segment text and FIN.
  if (a.data.length > 0 || a.fin) textAndFin(ctx, tcb, a.seq, a.data, a.fin, seg.ack);
}

/**
 * RFC 9293 §3.10.7.4 second step, a RST in the window (with RFC 5961 §3.2, which RFC 9293
 * describes: reset only on an exact match with RCV.NXT; an in-window RST gets a challenge ACK).
 */
function rstArrives(ctx: Ctx, tcb: Tcb, seg: TcpSegment): void {
  if (seg.seq !== tcb.rcvNxt) {
    // RFC 5961 §3.2: in the window but not exactly RCV.NXT: a challenge ACK (§7 limits it).
    challengeAck(ctx, tcb);
    ctx.drop('rst-ignored');
    return;
  }
  ctx.stats.resetsReceived++;
  switch (tcb.state) {
    case 'SYN-RECEIVED':
      // Passive OPEN: return to LISTEN (the entry leaves the listener's queue, nobody
      // is told). Active OPEN: the connection was refused.
      closeTcb(ctx, tcb, tcb.passive ? undefined : 'ECONNREFUSED');
      return;
    case 'ESTABLISHED':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
    case 'CLOSE-WAIT':
      ctx.stats.connectionsReset++;
      closeTcb(ctx, tcb, 'ECONNRESET');
      return;
    default:
      // CLOSING, LAST-ACK, TIME-WAIT: enter CLOSED, delete the TCB, return.
      closeTcb(ctx, tcb);
      return;
  }
}

/** RFC 9293 §3.10.7.4 fourth step: a SYN in the window. */
function synArrives(ctx: Ctx, tcb: Tcb): void {
  if (tcb.state === 'SYN-RECEIVED' && tcb.passive) {
    // "If the connection was initiated with a passive OPEN, then return this
    // connection to the LISTEN state and return."
    closeTcb(ctx, tcb);
    return;
  }
  // RFC 5961 §4.2 (RFC 9293 §3.10.7.4): a SYN in a synchronized state gets a challenge ACK.
  challengeAck(ctx, tcb);
  ctx.drop('syn-ignored');
}

/** RFC 9293 §3.10.7.4 fifth step, the ACK field. False when processing stops here. */
function ackArrives(ctx: Ctx, tcb: Tcb, seg: TcpSegment, segWnd: number, ts: { val: number; ecr: number } | undefined): boolean {
  if (!(seg.flags & TCP_ACK)) {
    ctx.drop('no-ack-flag');
    return false;
  }
  if (tcb.state === 'SYN-RECEIVED') {
    if (!(seqLt(tcb.sndUna, seg.ack) && seqLe(seg.ack, tcb.sndMax))) {
      // Unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>.
      sendRstAt(ctx, tcb, seg.ack);
      ctx.drop('bad-ack');
      return false;
    }
    tcb.sndUna = seg.ack;
    if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
    handshakeRtt(ctx, tcb, seg.ack, ts?.ecr);
    if (tcb.synTimedOut) rtoAfterSynTimeout(tcb.rto, ctx.cfg);
    tcb.retries = 0;
    tcb.timers[Timer.Retransmit] = -1;
    updateWindow(tcb, seg.seq, seg.ack, segWnd);
    // close() or shutdown() in SYN-RECEIVED was queued until ESTABLISHED (RFC 9293 §3.10.4).
    tcb.state = tcb.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED';
    ctx.onEstablished(tcb);
  }
  // RFC 7323 §5.3 R3: the segment is acceptable; remember its timestamp if it is the one
  // to echo. Only once its ACK has passed the RFC 5961 §5.2 check, as Linux (tcp_ack,
  // FLAG_UPDATE_TS_RECENT): a blind segment in the window with a guessed ACK must not move
  // TS.Recent, or a far-future TSval would make PAWS drop everything the peer sends.
  if (ts !== undefined && ackAcceptable(tcb, seg.ack)) updateTsRecent(tcb, seg.seq, ts.val, ctx.now);
  if (tcb.state !== 'TIME-WAIT') {
    if (!processAck(ctx, tcb, seg, segWnd, ts?.ecr)) return false;
    if (tcb.state === 'FIN-WAIT-1' && finAcked(tcb)) {
      tcb.state = 'FIN-WAIT-2';
      armOrphanTimeout(ctx, tcb);
    } else if (tcb.state === 'CLOSING' && finAcked(tcb)) {
      enterTimeWait(ctx, tcb);
    } else if (tcb.state === 'LAST-ACK' && finAcked(tcb)) {
      closeTcb(ctx, tcb);
      return false;
    }
  }
  return true;
}

/** RFC 9293 §3.10.7.4 seventh (segment text) and eighth (FIN) steps. */
function textAndFin(ctx: Ctx, tcb: Tcb, seq: number, data: Uint8Array, fin: boolean, segAck: number): void {
  if (!canReceiveData(tcb.state)) return; // after the peer's FIN: "ignore the segment text"
  if (data.length > 0 && tcb.userClosed) {
    // RFC 1122 4.2.2.13: new data after the user's CLOSE is lost; say so with a RST. Which
    // RST is not said: ours carries the connection's SND.NXT and ACK; profile 'linux' drops
    // the connection and answers the segment as a closed port would, <SEQ=SEG.ACK><CTL=RST>
    // (RFC 9293 §3.10.7.1), as Linux's tcp_rcv_state_process does.
    if (ctx.cfg.profile === 'linux') sendRstAt(ctx, tcb, segAck);
    else sendRst(ctx, tcb);
    ctx.stats.connectionsReset++;
    closeTcb(ctx, tcb);
    return;
  }
  const room = seqDiff(seqAdd(tcb.rcvNxt, rcvWnd(tcb)), seq);
  if (data.length > room) {
    data = data.subarray(0, Math.max(0, room));
    fin = false;
  }
  const held = tcb.ooo.segs.length > 0 || tcb.ooo.finSeq >= 0; // a gap this segment may fill
  if (receiveText(ctx, tcb, seq, data, fin)) processFin(ctx, tcb, held);
}

/** RFC 9293 §3.10.7.4 eighth step: the FIN is in sequence. */
function processFin(ctx: Ctx, tcb: Tcb, gapFilled: boolean): void {
  tcb.rcvNxt = seqAdd(tcb.rcvNxt, 1);
  tcb.finReceived = true;
  tcb.ackNow = true;
  ctx.event(tcb, 'eof');
  finClearsSack(ctx, tcb); // profile 'linux': no SACK blocks after the FIN
  switch (tcb.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      tcb.state = 'CLOSE-WAIT';
      if (delayFinAck(ctx, tcb, gapFilled)) tcb.ackNow = false; // profile 'linux': the delayed-ACK timer answers
      break;
    case 'FIN-WAIT-1':
      // Our FIN acknowledged (by this segment's ACK, processed above): TIME-WAIT; else CLOSING.
      if (finAcked(tcb)) enterTimeWait(ctx, tcb);
      else tcb.state = 'CLOSING';
      break;
    case 'FIN-WAIT-2':
      enterTimeWait(ctx, tcb);
      break;
    default:
      break;
  }
}

/** Fire the TCB's due timers, in a fixed order (part of the deterministic output). */
export function onTimers(ctx: Ctx, tcb: Tcb): void {
  const t = tcb.timers;
  const now = ctx.now;
  const due = (k: number): boolean => t[k]! >= 0 && t[k]! <= now;
  if (due(Timer.Close)) {
    t[Timer.Close] = -1;
    // TIME-WAIT over (or an orphaned FIN-WAIT-2 gave up): CLOSED.
    if (tcb.state === 'TIME-WAIT' || tcb.state === 'FIN-WAIT-2') {
      closeTcb(ctx, tcb);
      return;
    }
  }
  // RFC 8985 §7.2: a PTO clamped to the RTO's deadline fires first and re-arms the RTO.
  if (due(Timer.Tlp)) onTlpTimeout(ctx, tcb);
  if (due(Timer.Retransmit)) {
    // RFC 1122 4.2.3.5 R2 / RFC 9293 §3.8.3: give up (retries, or the user timeout), tell the user ETIMEDOUT.
    if (retransmitTimedOut(ctx, tcb, tcb.rto.rtoUs) || !onRetransmitTimeout(ctx, tcb)) {
      closeTcb(ctx, tcb, 'ETIMEDOUT');
      return;
    }
    clampRetransmitTimer(tcb);
  }
  if (due(Timer.RackReorder)) onRackTimeout(ctx, tcb);
  if (due(Timer.Persist)) {
    if (persistTimedOut(ctx, tcb)) {
      closeTcb(ctx, tcb, 'ETIMEDOUT');
      return;
    }
    onPersistTimeout(ctx, tcb);
  }
  if (due(Timer.DelayedAck)) {
    t[Timer.DelayedAck] = -1;
    tcb.ackNow = true;
    delayedAckFired(tcb);
  }
  if (due(Timer.KeepAlive) && !onKeepAlive(ctx, tcb)) {
    closeTcb(ctx, tcb, 'ETIMEDOUT');
    return;
  }
  if (tcb.state !== 'CLOSED') output(ctx, tcb);
}

/** RFC 1122 4.2.3.6 keep-alive. Returns false when the probes went unanswered. */
function onKeepAlive(ctx: Ctx, tcb: Tcb): boolean {
  const t = tcb.timers;
  t[Timer.KeepAlive] = -1;
  if (!tcb.keepAlive) return true;
  const cfg = ctx.cfg;
  const idleUs = cfg.keepAliveIdleMs * 1000;
  if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED') {
    t[Timer.KeepAlive] = ctx.now + idleUs;
    return true;
  }
  if (tcb.state !== 'ESTABLISHED' && tcb.state !== 'CLOSE-WAIT' && tcb.state !== 'FIN-WAIT-2') return true;
  if (tcb.keepAliveProbes === 0 && ctx.now < tcb.lastRecvUs + idleUs) {
    t[Timer.KeepAlive] = tcb.lastRecvUs + idleUs; // something arrived since: wait the rest of the idle time
    return true;
  }
  if (hasPendingOutput(tcb)) {
    t[Timer.KeepAlive] = ctx.now + idleUs; // the retransmission timer watches the peer
    return true;
  }
  if (keepAliveTimedOut(ctx, tcb) ?? tcb.keepAliveProbes >= cfg.keepAliveProbes) return false;
  // A probe with no data and SEG.SEQ = SND.NXT - 1: the peer must answer with an ACK.
  transmit(ctx, tcb, seqAdd(tcb.sndMax, -1), TCP_ACK);
  tcb.keepAliveProbes++;
  t[Timer.KeepAlive] = ctx.now + cfg.keepAliveIntervalMs * 1000;
  return true;
}

/** setKeepAlive(): arm or disarm the keep-alive timer. */
export function setKeepAlive(ctx: { cfg: Ctx['cfg'] }, tcb: Tcb, on: boolean): void {
  tcb.keepAlive = on;
  tcb.keepAliveProbes = 0;
  tcb.timers[Timer.KeepAlive] = on ? tcb.lastRecvUs + ctx.cfg.keepAliveIdleMs * 1000 : -1;
}

/** SHUTDOWN (half-close): a FIN after the queued data; receiving continues. */
export function userShutdown(ctx: Ctx, tcb: Tcb): void {
  switch (tcb.state) {
    case 'SYN-SENT':
    case 'SYN-RECEIVED':
      tcb.finQueued = true; // sent once ESTABLISHED
      break;
    case 'ESTABLISHED':
      tcb.finQueued = true;
      tcb.state = 'FIN-WAIT-1';
      break;
    case 'CLOSE-WAIT':
      tcb.finQueued = true;
      tcb.state = 'LAST-ACK';
      break;
    default:
      return; // already closing
  }
  output(ctx, tcb);
}

/** CLOSE (RFC 9293 §3.10.4). */
export function userClose(ctx: Ctx, tcb: Tcb): void {
  tcb.userClosed = true;
  if (tcb.rcvBuf.length > 0) {
    if (abortSendsRst(tcb)) {
      // RFC 1122 4.2.2.13 (RFC 2525 "Failure to RST on close with data pending"): closing
      // with received data unread loses it; send a RST to say so.
      userAbort(ctx, tcb);
      return;
    }
    tcb.rcvBuf.clear();
  }
  switch (tcb.state) {
    case 'SYN-SENT':
      closeTcb(ctx, tcb);
      return;
    case 'FIN-WAIT-2':
      armOrphanTimeout(ctx, tcb);
      return;
    default:
      userShutdown(ctx, tcb);
  }
}

/** ABORT sends <SEQ=SND.NXT><CTL=RST> in these states; in SYN-SENT, CLOSING, LAST-ACK and TIME-WAIT it only deletes the TCB. */
function abortSendsRst(tcb: Tcb): boolean {
  switch (tcb.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
    case 'CLOSE-WAIT':
      return true;
    default:
      return false;
  }
}

/** ABORT (RFC 9293 §3.10.5), for a TCB that is not CLOSED. */
export function userAbort(ctx: Ctx, tcb: Tcb): void {
  tcb.userClosed = true;
  if (abortSendsRst(tcb)) {
    sendRst(ctx, tcb);
    ctx.stats.connectionsReset++;
  }
  tcb.rcvBuf.clear();
  closeTcb(ctx, tcb);
}

/** RECEIVE (RFC 9293 §3.10.3): buffered bytes; may send a window update. */
export function userRead(ctx: Ctx, tcb: Tcb, maxBytes: number): Uint8Array {
  const data = readData(tcb, maxBytes, ctx.cfg.profile === 'linux');
  if (readFlushesAck(ctx.cfg, tcb, data.length)) tcb.ackNow = true;
  if (tcb.ackNow && tcb.state !== 'CLOSED') output(ctx, tcb);
  return data;
}
