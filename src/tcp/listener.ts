/**
 * Segments no synchronized connection takes, and the listeners: SEGMENT ARRIVES in CLOSED
 * (RFC 9293 §3.10.7.1) and in LISTEN (§3.10.7.2), SYN cookies when a listener's queue is
 * full (RFC 4987 §3.6, syncookie.ts), a new SYN ending TIME-WAIT (RFC 1122 4.2.2.13),
 * closing a listener, and ephemeral ports. The per-connection state machine is
 * connection.ts; the demultiplexing that calls these is Stack.handlePacket (stack.ts).
 */
import { closeTcb, segmentArrives, userAbort } from './connection.js';
import { negotiate } from './options.js';
import { prngBelow } from './prng.js';
import { receiveSyn } from './receiver.js';
import { output } from './sender.js';
import type { Listener, StackCore } from './stack-core.js';
import { COOKIE_CHECK_US, cookieSynAck, cookieTcb } from './syncookie.js';
import type { Tcb } from './tcb.js';
import { StackError, type SocketId } from './types.js';
import { seqAdd } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from '../wire/tcp.js';

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;

/** RFC 1122 4.2.2.13: a SYN (no ACK, no RST) above RCV.NXT may end TIME-WAIT. */
export function reopensTimeWait(tcb: Tcb, seg: TcpSegment): boolean {
  const f = seg.flags;
  return (f & TCP_SYN) !== 0 && (f & (TCP_ACK | TCP_RST)) === 0 && ((seg.seq - tcb.rcvNxt) | 0) > 0;
}

/** Ephemeral port from the PRNG (RFC 6056 style: random start, then the next free one). */
export function ephemeralPort(core: StackCore, la: number, ra: number, rp: number): number {
  const start = prngBelow(core.st.prng, EPHEMERAL_COUNT);
  for (let i = 0; i < EPHEMERAL_COUNT; i++) {
    const port = EPHEMERAL_FIRST + ((start + i) % EPHEMERAL_COUNT);
    if (core.tuples.has(la, port, ra, rp)) continue;
    if (core.findListener(la, port) !== undefined) continue;
    return port;
  }
  throw new StackError('EADDRNOTAVAIL', 'connect: no ephemeral port left for this destination');
}

/** CLOSE or ABORT of a listener (RFC 9293 §3.10.4 / §3.10.5, LISTEN STATE: delete it); what it held is reset. */
export function closeListener(core: StackCore, now: number, id: SocketId): void {
  const l = core.st.listeners.get(id)!;
  core.st.listeners.delete(id);
  const key = `${l.address}:${l.port}`;
  if (core.listenIndex.get(key) === id) core.listenIndex.delete(key);
  // Connections nobody accepted are aborted: RFC 9293 §3.10.5 ABORT sends a RST in
  // SYN-RECEIVED and ESTABLISHED. Profile 'linux' drops the half-open ones without a word,
  // as Linux does (their request sockets die with the listener); the peer's next segment
  // then finds no connection and gets the RST of §3.10.7.1. Both are ABORT of a
  // connection the user never saw: §3.10.5 does not say which the listener's close is.
  const ctx = core.ctx.at(now);
  const silent = core.cfg.profile === 'linux';
  for (const cid of [...l.synQueue, ...l.acceptQueue]) {
    const tcb = core.st.conns.get(cid);
    if (tcb === undefined) continue;
    tcb.listenerId = -1;
    core.connHashes.mark(cid);
    if (silent && tcb.state === 'SYN-RECEIVED') {
      tcb.userClosed = true;
      closeTcb(ctx, tcb);
    } else {
      userAbort(ctx, tcb);
    }
  }
}

/** RFC 9293 §3.10.7.1: a segment for no connection and no listener. */
export function closedSegment(core: StackCore, local: number, remote: number, seg: TcpSegment): void {
  if (seg.flags & TCP_RST) {
    core.drop('rst-ignored'); // "An incoming segment containing a RST is discarded."
    return;
  }
  sendReset(core, local, remote, seg);
}

/**
 * The reset for a segment that belongs to nothing (RFC 9293 §3.10.7.1):
 * ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; ACK on: <SEQ=SEG.ACK><CTL=RST>.
 */
function sendReset(core: StackCore, local: number, remote: number, seg: TcpSegment): void {
  const base = { srcPort: seg.dstPort, dstPort: seg.srcPort, window: 0 };
  if (seg.flags & TCP_ACK) {
    core.emit(local, remote, { ...base, seq: seg.ack, ack: 0, flags: TCP_RST });
  } else {
    const segLen = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    core.emit(local, remote, { ...base, seq: 0, ack: seqAdd(seg.seq, segLen), flags: TCP_RST | TCP_ACK });
  }
  core.st.stats.resetsSent++;
}

/** RFC 4987 §3.6: a stateless SYN-ACK whose ISN is a cookie (syncookie.ts). */
function sendCookie(core: StackCore, l: Listener, local: number, remote: number, seg: TcpSegment): void {
  core.emit(local, remote, cookieSynAck(core.cfg, core.st.isnKey, core.ctx.now, local, remote, seg, l.options));
  l.lastCookieUs = core.ctx.now;
  core.st.stats.synCookiesSent = (core.st.stats.synCookiesSent ?? 0) + 1;
}

/**
 * An ACK at a listener that sent cookies lately: if it carries a good cookie, make the
 * connection and let it process the ACK (and any data on it). False when it does not
 * (the caller answers with a RST).
 */
function cookieAck(core: StackCore, l: Listener, local: number, remote: number, seg: TcpSegment): boolean {
  const ctx = core.ctx;
  if (!core.cfg.synCookies || l.lastCookieUs < 0 || ctx.now - l.lastCookieUs > COOKIE_CHECK_US) return false;
  const stats = core.st.stats;
  const tcb = cookieTcb(core.cfg, core.st.isnKey, ctx.now, local, remote, seg, core.st.nextId, l.id, l.options);
  if (tcb === undefined) {
    stats.synCookiesFailed = (stats.synCookiesFailed ?? 0) + 1;
    return false;
  }
  if (l.acceptQueue.length >= l.backlog) core.drop('listen-backlog-full');
  else if (core.tuples.size >= core.cfg.maxConnections) core.drop('too-many-connections');
  else {
    stats.synCookiesValidated = (stats.synCookiesValidated ?? 0) + 1;
    core.st.nextId++;
    core.link(tcb);
    stats.connectionsPassive++;
    segmentArrives(ctx, tcb, seg);
    // It always completes (SEG.ACK = ISS + 1 by construction); a cookie connection has no
    // SYN-ACK to retransmit, so one that did not must not linger.
    if (tcb.state === 'SYN-RECEIVED') closeTcb(ctx, tcb);
    core.schedule(tcb);
  }
  return true;
}

/** RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN. */
export function listenSegment(core: StackCore, l: Listener, local: number, remote: number, seg: TcpSegment): void {
  // First, check for a RST: ignore it.
  if (seg.flags & TCP_RST) {
    core.drop('rst-ignored');
    return;
  }
  // Second, check for an ACK: <SEQ=SEG.ACK><CTL=RST> (unless it completes a SYN cookie handshake).
  if (seg.flags & TCP_ACK) {
    if (!(seg.flags & TCP_SYN) && cookieAck(core, l, local, remote, seg)) return;
    sendReset(core, local, remote, seg);
    return;
  }
  // Third, check for a SYN.
  if (!(seg.flags & TCP_SYN)) {
    core.drop('other'); // fourth: other text or control, drop it
    return;
  }
  if (l.synQueue.length + l.acceptQueue.length >= l.backlog) {
    // RFC 4987 §3.6: the SYN queue is full: answer with a cookie and hold nothing, unless
    // the accept queue alone is full (a completed connection would have nowhere to go).
    if (core.cfg.synCookies && l.acceptQueue.length < l.backlog) sendCookie(core, l, local, remote, seg);
    else core.drop('listen-backlog-full');
    return;
  }
  if (core.tuples.size >= core.cfg.maxConnections) {
    core.drop('too-many-connections');
    return;
  }
  const ctx = core.ctx;
  const tcb = core.newTcb(ctx.now, 'SYN-RECEIVED', local, seg.dstPort, remote, seg.srcPort, l.id);
  // RCV.NXT = SEG.SEQ + 1, IRS = SEG.SEQ; options; then <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
  // Text on the SYN is not acknowledged (the peer sends it again once synchronized).
  receiveSyn(tcb, seg.seq);
  negotiate(tcb, seg.options, core.cfg, ctx.now);
  core.link(tcb);
  l.synQueue.push(tcb.id);
  core.st.stats.connectionsPassive++;
  output(ctx, tcb);
  core.schedule(tcb);
}
