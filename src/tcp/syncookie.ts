/**
 * SYN cookies (RFC 4987 §3.6), Linux-style (net/ipv4/syncookies.c): when a listener's SYN
 * queue is full, the SYN-ACK's ISN encodes what the listener would have kept, and no state
 * is held; the ACK that completes the handshake brings it back.
 *
 *   cookie = H0(tuple) + SEG.SEQ(peer ISN) + (count << 24) + ((H1(tuple, count) + mssIndex) mod 2^24)
 *
 * count ticks once a minute of the caller's `now` (Linux tcp_cookie_time) and a cookie is
 * good for two ticks (MAX_SYNCOOKIE_AGE); mssIndex is the index of the largest entry of
 * MSS_TABLE not above the peer's MSS. H0 and H1 are HalfSipHash-2-4 (isn.ts) keyed with the
 * stack's RFC 6528 secret, drawn from the seeded PRNG when the stack was made, with a
 * constant that separates this use from the ISN's: a replica computes the same cookies.
 *
 * Window scale and SACK-permitted do not fit in the ISN. When the peer's SYN carried
 * timestamps, they travel in the low 6 bits of our SYN-ACK's TSval (Linux
 * cookie_init_timestamp): bits 0-3 the peer's shift (15 = no window scaling), bit 4 SACK;
 * the peer echoes the TSval in the ACK's TSecr. Without timestamps a cookie connection
 * has neither window scaling nor SACK, as in Linux.
 */
import { DEFAULT_PEER_MSS, MAX_WINDOW, type ResolvedConfig } from './config.js';
import { halfSipHash24, timestampOffset, type IsnKey } from './isn.js';
import { negotiate } from './options.js';
import { receiveSyn } from './receiver.js';
import { applyOptions } from './sockopts.js';
import { createTcb, ourMss, type Tcb } from './tcb.js';
import type { SocketId, SocketOptions } from './types.js';
import { seqAdd } from '../wire/seq.js';
import { optionSummary, TCP_ACK, TCP_SYN, type TcpOption, type TcpSegment, type TcpSegmentFields } from '../wire/tcp.js';

/** Linux msstab (IPv4): the MSS values a cookie can carry. */
export const MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];
/** One tick of the cookie clock: a minute (Linux tcp_cookie_time). */
export const COOKIE_TICK_US = 60_000_000;
/** A cookie is accepted during the tick it was made in and the next (Linux MAX_SYNCOOKIE_AGE). */
export const COOKIE_MAX_AGE = 2;
/** How long after the last cookie sent a listener still checks ACKs for cookies (Linux: 2 minutes). */
export const COOKIE_CHECK_US = COOKIE_MAX_AGE * COOKIE_TICK_US;

const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
const TS_BITS = 6;
const TS_WSCALE_MASK = 0xf;
const TS_SACK = 0x10;
/** Domain separation from the ISN and TS-offset uses of the same key ("SYNC"). */
const DOMAIN = 0x53_59_4e_43;

function cookieHash(key: IsnKey, la: number, lp: number, ra: number, rp: number, count: number, c: number): number {
  return halfSipHash24(key.k0, key.k1, [DOMAIN + c, la, ra, ((lp & 0xffff) << 16 | (rp & 0xffff)) >>> 0, count >>> 0]);
}

function cookieCount(nowUs: number): number {
  return Math.floor(nowUs / COOKIE_TICK_US) >>> 0;
}

/** Index in MSS_TABLE of the largest MSS not above `mss` (0 when even 536 is too big, as Linux). */
export function mssIndex(mss: number): number {
  for (let i = MSS_TABLE.length - 1; i > 0; i--) if (mss >= MSS_TABLE[i]!) return i;
  return 0;
}

/** The ISN of a cookie SYN-ACK for a SYN from ra:rp to la:lp with sequence number `peerIsn`. */
export function makeCookie(key: IsnKey, nowUs: number, la: number, lp: number, ra: number, rp: number, peerIsn: number, mssIdx: number): number {
  const count = cookieCount(nowUs);
  return (
    (cookieHash(key, la, lp, ra, rp, 0, 0) + peerIsn + ((count << COOKIE_BITS) >>> 0) + ((cookieHash(key, la, lp, ra, rp, count, 1) + mssIdx) & COOKIE_MASK)) >>>
    0
  );
}

/**
 * Check a cookie (SEG.ACK - 1 of a handshake's ACK, whose SEG.SEQ - 1 is `peerIsn`):
 * the MSS index it carries, or -1 when it is not one of ours or too old.
 */
export function checkCookie(key: IsnKey, nowUs: number, la: number, lp: number, ra: number, rp: number, peerIsn: number, cookie: number): number {
  const count = cookieCount(nowUs);
  const v = (cookie - cookieHash(key, la, lp, ra, rp, 0, 0) - peerIsn) >>> 0;
  const age = (count - (v >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
  if (age >= COOKIE_MAX_AGE) return -1;
  const idx = (v - cookieHash(key, la, lp, ra, rp, (count - age) >>> 0, 1)) & COOKIE_MASK;
  return idx < MSS_TABLE.length ? idx : -1;
}

/** What a cookie SYN-ACK offers back, given the peer's SYN and our configuration (RFC 7323 §2.2, §3.2; RFC 2018 §2). */
interface Offer {
  ts: boolean;
  /** The peer's shift, or -1 without window scaling. */
  peerWscale: number;
  sack: boolean;
}

function offer(cfg: ResolvedConfig, syn: TcpSegment): Offer & { tsVal: number } {
  const s = optionSummary(syn.options);
  const ts = cfg.timestamps && s.ts !== undefined;
  // Without timestamps there is nowhere to keep window scale and SACK.
  return {
    ts,
    peerWscale: ts && cfg.windowScaling && s.wscale !== undefined ? Math.min(s.wscale, 14) : -1,
    sack: ts && cfg.sack && s.sackOk,
    tsVal: s.ts?.val ?? 0,
  };
}

/**
 * The cookie SYN-ACK's options, in Linux's SYN-ACK layout (options.ts synOptions), and
 * its TSval: our clock `tsNow` rounded down to a multiple of 64 ms with the options in
 * the low 6 bits (never above tsNow, so the connection's TS clock stays monotonic).
 */
export function cookieSynAckOptions(cfg: ResolvedConfig, syn: TcpSegment, tsNow: number, clamp?: number): TcpOption[] {
  const o = offer(cfg, syn);
  // RFC 6691: the listener's MSS clamp (sockopts.ts), as on a SYN-ACK with state.
  const out: TcpOption[] = [{ kind: 'mss', mss: clamp === undefined || clamp === 0 ? ourMss(cfg) : Math.min(ourMss(cfg), clamp) }];
  if (o.ts) {
    const bits = (o.peerWscale >= 0 ? o.peerWscale : TS_WSCALE_MASK) | (o.sack ? TS_SACK : 0);
    let val = ((tsNow & ~((1 << TS_BITS) - 1)) | bits) >>> 0;
    if (bits > (tsNow & ((1 << TS_BITS) - 1))) val = (val - (1 << TS_BITS)) >>> 0;
    const tsOpt: TcpOption = { kind: 'ts', val, ecr: o.tsVal };
    if (o.sack) out.push({ kind: 'sackOk' }, tsOpt);
    else out.push({ kind: 'nop' }, { kind: 'nop' }, tsOpt);
  }
  if (o.peerWscale >= 0) out.push({ kind: 'nop' }, { kind: 'wscale', shift: cfg.windowScale });
  return out;
}

/**
 * The options the peer's SYN must have carried, rebuilt from a cookie ACK: fed to
 * options.ts negotiate() they give the connection what the SYN-ACK agreed to. The TS
 * option carries the ACK's TSval (TS.Recent starts there). Undefined when the TSecr bits
 * ask for something the configuration does not allow (a forged or corrupt echo).
 */
export function cookieSynOptions(cfg: ResolvedConfig, ack: TcpSegment, mssIdx: number): TcpOption[] | undefined {
  const out: TcpOption[] = [{ kind: 'mss', mss: MSS_TABLE[mssIdx]! }];
  const ts = optionSummary(ack.options).ts;
  if (ts === undefined || !cfg.timestamps) return out;
  out.push({ kind: 'ts', val: ts.val, ecr: 0 });
  const bits = ts.ecr & ((1 << TS_BITS) - 1);
  if (bits & TS_SACK) {
    if (!cfg.sack) return undefined;
    out.push({ kind: 'sackOk' });
  }
  const shift = bits & TS_WSCALE_MASK;
  if (shift !== TS_WSCALE_MASK) {
    if (shift > 14 || !cfg.windowScaling) return undefined;
    out.push({ kind: 'wscale', shift });
  }
  return out;
}

/**
 * The cookie SYN-ACK answering `syn` (from remote to local): <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK>,
 * with the listener's receive buffer and MSS clamp when it has them (`opts`).
 */
export function cookieSynAck(cfg: ResolvedConfig, key: IsnKey, nowUs: number, local: number, remote: number, syn: TcpSegment, opts?: SocketOptions): TcpSegmentFields {
  const mss = optionSummary(syn.options).mss ?? DEFAULT_PEER_MSS;
  const iss = makeCookie(key, nowUs, local, syn.dstPort, remote, syn.srcPort, syn.seq, mssIndex(mss));
  // Our TS clock for this pair, as the connection will have it (timestamps.ts tsNow).
  const tsNow = (Math.floor(nowUs / 1000) + timestampOffset(key, local, remote)) >>> 0;
  return {
    srcPort: syn.dstPort,
    dstPort: syn.srcPort,
    seq: iss,
    ack: seqAdd(syn.seq, 1),
    flags: TCP_SYN | TCP_ACK,
    window: Math.min(opts?.recvBufferBytes ?? cfg.recvBufferBytes, MAX_WINDOW), // RFC 7323 §2.2: a SYN-ACK window is never scaled
    options: cookieSynAckOptions(cfg, syn, tsNow, opts?.maxSegment),
  };
}

/**
 * The connection a cookie ACK (from remote to local) brings back, in SYN-RECEIVED as if
 * our SYN-ACK had gone out (SND.NXT = ISS + 1, Last.ACK.sent = RCV.NXT), ready to process
 * the ACK; undefined when SEG.ACK - 1 is not a good cookie for the tuple and SEG.SEQ - 1.
 */
export function cookieTcb(cfg: ResolvedConfig, key: IsnKey, nowUs: number, local: number, remote: number, ack: TcpSegment, id: SocketId, listenerId: SocketId, opts?: SocketOptions): Tcb | undefined {
  const peerIsn = seqAdd(ack.seq, -1);
  const iss = seqAdd(ack.ack, -1);
  const idx = checkCookie(key, nowUs, local, ack.dstPort, remote, ack.srcPort, peerIsn, iss);
  const options = idx < 0 ? undefined : cookieSynOptions(cfg, ack, idx);
  if (options === undefined) return undefined;
  const tcb = createTcb(cfg, {
    id,
    state: 'SYN-RECEIVED',
    localAddr: local,
    localPort: ack.dstPort,
    remoteAddr: remote,
    remotePort: ack.srcPort,
    passive: true,
    listenerId,
    visible: false,
    iss,
    nowUs,
    tsOffset: timestampOffset(key, local, remote),
  });
  // The listener's options, before the MSS is negotiated (its clamp counts).
  applyOptions(tcb, opts);
  receiveSyn(tcb, peerIsn);
  negotiate(tcb, options, cfg, nowUs);
  tcb.sndNxt = tcb.sndMax = seqAdd(iss, 1);
  tcb.lastAckSent = tcb.rcvNxt;
  return tcb;
}
