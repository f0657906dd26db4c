/**
 * ICMP errors about our segments (RFC 1122 4.2.3.9, RFC 5461, RFC 5927), the TCP side:
 *  - "fragmentation needed" (destination unreachable, code 4) is path-MTU discovery (RFC
 *    1191): the path MTU learnt for the destination lowers the connection's send MSS, what
 *    was sent and no longer fits is sent again in smaller segments (RFC 1191 §6.5, RFC 9293
 *    §3.7.3), and the value is kept per destination (RFC 1191 §5) for later connections;
 *  - every other destination unreachable, time exceeded and parameter problem is a soft
 *    error (RFC 1122 4.2.3.9; RFC 5461 §4 for the hard codes in the synchronized states):
 *    the connection carries on and remembers it, and if it later times out the user is told
 *    that error instead of ETIMEDOUT (as Linux's sk_err_soft). Before the handshake ends,
 *    hard errors (protocol and port unreachable) abort it (RFC 1122 4.2.3.9 "SHOULD abort",
 *    RFC 5461 §4), and under profile linux every unreachable does, as tcp_v4_err;
 *  - source quench is ignored (RFC 6633 §1: a TCP MUST silently discard it).
 * Every message must quote a segment of a connection we have, with a sequence number we
 * sent and that is not acknowledged yet (RFC 5927 §4.1); anything else is a counted drop.
 * Deterministic: the time comes in as an argument, and the cache ages by it.
 */
import { closeTcb } from './connection.js';
import { IP_TCP_HEADER_BYTES } from './config.js';
import { SEG_SACKED } from './rack.js';
import { output } from './sender.js';
import type { StackCore } from './stack-core.js';
import { canSendData, type Tcb } from './tcb.js';
import type { ConnectionErrorCode } from './types.js';
import { TS_OPTION_BYTES } from './options.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACHABLE, ICMP_SOURCE_QUENCH, IP_PROTO_ICMP, parseIcmpTcpError, type IcmpTcpError } from '../wire/icmp.js';
import { parseIpv4 } from '../wire/ipv4.js';
import { seqDiff, seqLe, seqLt } from '../wire/seq.js';

/**
 * Smallest path MTU we take from a "fragmentation needed": smaller values are raised to it
 * (RFC 1191 §3 only forbids going below 68; Linux's min_pmtu is this 552, which keeps the MSS
 * at 512 and so out of reach of a forged message asking for tiny segments, RFC 5927 §7.2).
 */
export const MIN_PMTU = 552;
/** RFC 1191 §6.3: a learnt PMTU is forgotten after about 10 minutes (Linux mtu_expires, 600 s). */
export const PMTU_AGE_US = 600_000_000;
/** The per-destination cache holds at most this many entries, the oldest going first. */
export const PMTU_CACHE_MAX = 1024;
/** RFC 1191 §7: the plateau table, for a "fragmentation needed" without a next-hop MTU (§5). */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/** A path MTU learnt for one destination, and when (µs). */
export interface PathMtuEntry {
  mtu: number;
  learnedUs: number;
}

/**
 * An inbound IPv4 packet that is not TCP. Returns false when it is not ICMP either (the
 * caller counts it), true when it was handled here (acted on or counted as a drop).
 */
export function icmpArrives(core: StackCore, now: number, bytes: Uint8Array): boolean {
  const ip = parseIpv4(bytes);
  if (!ip.ok || ip.header.protocol !== IP_PROTO_ICMP) return false;
  // Parsed first, then the address, in the order a TCP segment is judged (stack.ts).
  const parsed = parseIcmpTcpError(ip.payload);
  if (!parsed.ok) {
    core.drop(parsed.reason);
    return true;
  }
  if (!core.cfg.addresses.includes(ip.header.dst)) {
    core.drop('not-for-us');
    return true;
  }
  const m = parsed.message;
  core.st.stats.icmpIn = (core.st.stats.icmpIn ?? 0) + 1;
  // RFC 6633 §1: source quench is deprecated; a TCP silently discards it.
  if (m.type === ICMP_SOURCE_QUENCH) {
    core.drop('icmp-source-quench');
    return true;
  }
  // The quoted segment is one we sent: its source is our address.
  const id = core.tuples.get(m.src, m.srcPort, m.dst, m.dstPort);
  const tcb = id === undefined ? undefined : core.st.conns.get(id);
  if (tcb === undefined || tcb.state === 'CLOSED' || tcb.state === 'TIME-WAIT') {
    core.drop('icmp-no-connection');
    return true;
  }
  // RFC 5927 §4.1: the quoted sequence number must lie in SND.UNA =< SEG.SEQ < SND.NXT.
  // SND.MAX stands for SND.NXT (what was sent, also while going back after an RTO), and
  // the upper end is taken inclusive, as Linux's between(), so that an error about a
  // segment without data (an ACK, at SND.NXT) is not lost.
  if (!(seqLe(tcb.sndUna, m.seq) && seqLe(m.seq, tcb.sndMax))) {
    core.drop('icmp-out-of-window');
    return true;
  }
  const ctx = core.ctx.at(now);
  if (m.type === ICMP_DEST_UNREACHABLE && m.code === ICMP_CODE_FRAG_NEEDED) {
    pathMtuDecrease(core, now, tcb, m);
  } else {
    const error = softErrorOf(m);
    const hard = m.type === ICMP_DEST_UNREACHABLE && (m.code === 2 || m.code === 3);
    const synchronized = tcb.state !== 'SYN-SENT' && tcb.state !== 'SYN-RECEIVED';
    if (!synchronized && m.type === ICMP_DEST_UNREACHABLE && (hard || core.cfg.profile === 'linux')) {
      // RFC 1122 4.2.3.9, RFC 5461 §4: a hard error aborts a connection still opening.
      closeTcb(ctx, tcb, error);
    } else {
      tcb.softError = error;
    }
  }
  core.schedule(tcb);
  return true;
}

/** The error a soft ICMP error is reported as if the connection later fails (Linux's icmp_err_convert, coarser). */
function softErrorOf(m: IcmpTcpError): ConnectionErrorCode {
  if (m.type !== ICMP_DEST_UNREACHABLE) return 'EHOSTUNREACH';
  if (m.code === 2 || m.code === 3) return 'ECONNREFUSED';
  return m.code === 0 || m.code === 6 || m.code === 9 || m.code === 11 ? 'ENETUNREACH' : 'EHOSTUNREACH';
}

/** RFC 1191 §5 / §7: the next plateau below the quoted datagram's length. */
function plateauBelow(length: number): number {
  return PLATEAUS.find((p) => p < length) ?? 68;
}

/**
 * RFC 1191 §6.5: a "fragmentation needed" for a segment of `tcb`. A PMTU below the one the
 * connection uses lowers its send MSS to PMTU - 40 (less the timestamp option when
 * negotiated, RFC 6691 §3), remembers it for the destination (RFC 1191 §5), and sends again
 * from SND.UNA in segments of the new size (RFC 1191 §6.5: the datagram was dropped, and
 * this is not congestion, so cwnd and ssthresh stay; Linux's tcp_simple_retransmit). A
 * value that would raise the PMTU is ignored (RFC 1191 §6.3: only the timer raises it).
 */
function pathMtuDecrease(core: StackCore, now: number, tcb: Tcb, m: IcmpTcpError): void {
  // Linux IP_PMTUDISC_DONT (tcb.noDf): segments go without DF, so the path fragments them
  // and no "fragmentation needed" is about them (RFC 1191 §3 applies to DF datagrams).
  if (tcb.noDf === true) {
    core.drop('icmp-pmtu-not-lower');
    return;
  }
  const current = tcb.pmtu ?? core.cfg.mtu;
  const reported = m.nextHopMtu === 0 ? plateauBelow(m.quotedTotalLength) : m.nextHopMtu;
  const pmtu = Math.max(reported, MIN_PMTU);
  if (pmtu >= current) {
    core.drop('icmp-pmtu-not-lower');
    return;
  }
  core.st.stats.pmtuDecreases = (core.st.stats.pmtuDecreases ?? 0) + 1;
  rememberPathMtu(core, tcb.remoteAddr, pmtu, now);
  tcb.pmtu = pmtu;
  // Before the handshake ends the MSS is not negotiated yet: options.ts takes tcb.pmtu then.
  if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED') return;
  const mss = Math.max(pmtu - IP_TCP_HEADER_BYTES - (tcb.tsOk ? TS_OPTION_BYTES : 0), 1);
  if (mss >= tcb.sndMss) return;
  tcb.sndMss = mss;
  if (!canSendData(tcb.state) || tcb.sndUna === tcb.sndMax) return;
  const from = firstTooLong(tcb, mss);
  if (from === undefined) return;
  // Go back, as after an RTO but without its congestion response (sender.ts resends from
  // SND.NXT in segments of sndMss, skipping what the peer has SACKed).
  tcb.sndNxt = from;
  tcb.rttActive = false; // Karn: no RTT sample from a retransmitted segment
  output(core.ctx.at(now), tcb);
}

/**
 * Where to resend from: the first segment in flight, not SACKed, longer than the new MSS
 * (the router dropped those; Linux's tcp_simple_retransmit marks just them lost), or
 * undefined when every one fits. Without RACK's per-segment records any segment may be
 * too long, so SND.UNA.
 */
function firstTooLong(tcb: Tcb, mss: number): number | undefined {
  const segs = tcb.rack.segs;
  if (segs.length === 0) return tcb.sndUna;
  for (const s of segs) {
    if (s.f & SEG_SACKED || seqDiff(s.end, s.seq) <= mss) continue;
    return seqLt(s.seq, tcb.sndUna) ? tcb.sndUna : s.seq;
  }
  return undefined;
}

/** RFC 1191 §5: the cache of path MTUs per destination, bounded, oldest out first. */
function rememberPathMtu(core: StackCore, dst: Ipv4Addr, mtu: number, now: number): void {
  const cache = (core.st.pmtuCache ??= new Map());
  cache.delete(dst);
  cache.set(dst, { mtu, learnedUs: now });
  if (cache.size > PMTU_CACHE_MAX) cache.delete(cache.keys().next().value!);
}

/** The path MTU learnt for `dst` and not yet aged out (RFC 1191 §6.3), or undefined. */
export function cachedPathMtu(cache: Map<Ipv4Addr, PathMtuEntry> | undefined, dst: Ipv4Addr, now: number): number | undefined {
  const e = cache?.get(dst);
  if (e === undefined) return undefined;
  if (now - e.learnedUs >= PMTU_AGE_US) {
    cache!.delete(dst);
    return undefined;
  }
  return e.mtu;
}
