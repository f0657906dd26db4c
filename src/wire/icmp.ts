/**
 * ICMP error messages about TCP segments (RFC 792), as far as a TCP needs them: the type,
 * the code, the next-hop MTU of a "fragmentation needed" (RFC 1191 §4) and the quoted
 * header of the datagram that caused the error, which names the connection. Parsing never
 * reads past the buffer and never throws: a malformed message is a returned reason, which
 * the stack counts as a drop.
 */
import type { Ipv4Addr } from './addr.js';
import { internetChecksum } from './checksum.js';
import { IPV4_MIN_HEADER_BYTES, IP_PROTO_TCP, writeIpv4Header } from './ipv4.js';

export const IP_PROTO_ICMP = 1;
/** ICMP header: type, code, checksum, and one 32-bit word whose meaning depends on the type. */
export const ICMP_HEADER_BYTES = 8;
/** RFC 792: an error quotes the internet header plus the first 64 bits of the datagram's data. */
export const ICMP_QUOTED_DATA_BYTES = 8;

export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
/** Destination-unreachable code 4 (RFC 792), "fragmentation needed and DF set". */
export const ICMP_CODE_FRAG_NEEDED = 4;

export type IcmpDropReason =
  | 'icmp-truncated' // shorter than an ICMP header plus a quoted IPv4 header and 8 bytes
  | 'icmp-bad-checksum'
  | 'icmp-not-error' // a type that carries no error about a datagram of ours (echo, timestamp, ...)
  | 'icmp-bad-quote' // the quoted datagram is not a well-formed IPv4 header
  | 'icmp-not-tcp'; // the quoted datagram is not TCP

/** An ICMP error about a TCP segment, with what it quotes of that segment. */
export interface IcmpTcpError {
  type: number;
  code: number;
  /**
   * RFC 1191 §4: a "fragmentation needed" carries the next-hop MTU in the low 16 bits of
   * its second word; 0 from a router older than RFC 1191 (and for every other message).
   */
  nextHopMtu: number;
  /** The quoted IPv4 header's total length (RFC 1191 §5 estimates from it when nextHopMtu is 0). */
  quotedTotalLength: number;
  /** The quoted segment's addresses and ports, as it was sent (source = the sender of the segment). */
  src: Ipv4Addr;
  dst: Ipv4Addr;
  srcPort: number;
  dstPort: number;
  /** The quoted segment's sequence number. */
  seq: number;
}

export type IcmpParseResult = { ok: true; message: IcmpTcpError } | { ok: false; reason: IcmpDropReason };

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Parse the payload of an IPv4 packet with protocol 1 as an error about a TCP segment.
 * Only the error types (RFC 792: destination unreachable, source quench, time exceeded,
 * parameter problem) are accepted; the quoted header must be IPv4 carrying TCP.
 */
export function parseIcmpTcpError(icmp: Uint8Array): IcmpParseResult {
  if (icmp.length < ICMP_HEADER_BYTES + IPV4_MIN_HEADER_BYTES + ICMP_QUOTED_DATA_BYTES) return { ok: false, reason: 'icmp-truncated' };
  // RFC 792: the checksum is the one's complement sum over the whole ICMP message.
  if (internetChecksum(icmp, 0, icmp.length) !== 0) return { ok: false, reason: 'icmp-bad-checksum' };
  const type = icmp[0]!;
  const code = icmp[1]!;
  if (type !== ICMP_DEST_UNREACHABLE && type !== ICMP_SOURCE_QUENCH && type !== ICMP_TIME_EXCEEDED && type !== ICMP_PARAMETER_PROBLEM) {
    return { ok: false, reason: 'icmp-not-error' };
  }
  const q = ICMP_HEADER_BYTES;
  if (icmp[q]! >> 4 !== 4) return { ok: false, reason: 'icmp-bad-quote' };
  const ihl = (icmp[q]! & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER_BYTES) return { ok: false, reason: 'icmp-bad-quote' };
  if (icmp.length < q + ihl + ICMP_QUOTED_DATA_BYTES) return { ok: false, reason: 'icmp-truncated' };
  if (icmp[q + 9] !== IP_PROTO_TCP) return { ok: false, reason: 'icmp-not-tcp' };
  const t = q + ihl;
  const nextHopMtu = type === ICMP_DEST_UNREACHABLE && code === ICMP_CODE_FRAG_NEEDED ? (icmp[6]! << 8) | icmp[7]! : 0;
  return {
    ok: true,
    message: {
      type,
      code,
      nextHopMtu,
      quotedTotalLength: (icmp[q + 2]! << 8) | icmp[q + 3]!,
      src: u32(icmp, q + 12),
      dst: u32(icmp, q + 16),
      srcPort: (icmp[t]! << 8) | icmp[t + 1]!,
      dstPort: (icmp[t + 2]! << 8) | icmp[t + 3]!,
      seq: u32(icmp, t + 4),
    },
  };
}

/** What buildIcmpTcpError puts in an ICMP error about a TCP segment. */
export interface IcmpTcpErrorFields {
  type: number;
  code: number;
  /** Next-hop MTU of a "fragmentation needed" (RFC 1191 §4); 0 otherwise. */
  nextHopMtu?: number;
  /** The quoted segment, as it was sent. */
  quoted: { src: Ipv4Addr; dst: Ipv4Addr; srcPort: number; dstPort: number; seq: number; totalLength: number };
}

/**
 * A whole IPv4 packet carrying an ICMP error that quotes a TCP segment: a 20-byte IPv4
 * header of the quoted datagram plus its first 8 bytes (ports and sequence number), as RFC
 * 792 asks of the router that sends it. For tests and the conformance runner.
 */
export function buildIcmpTcpError(ip: { src: Ipv4Addr; dst: Ipv4Addr; id: number; ttl?: number }, f: IcmpTcpErrorFields): Uint8Array {
  const icmpLength = ICMP_HEADER_BYTES + IPV4_MIN_HEADER_BYTES + ICMP_QUOTED_DATA_BYTES;
  const out = new Uint8Array(IPV4_MIN_HEADER_BYTES + icmpLength);
  const o = IPV4_MIN_HEADER_BYTES;
  out[o] = f.type & 0xff;
  out[o + 1] = f.code & 0xff;
  const mtu = f.nextHopMtu ?? 0;
  out[o + 6] = (mtu >>> 8) & 0xff;
  out[o + 7] = mtu & 0xff;
  const qd = f.quoted;
  writeIpv4Header(out, o + ICMP_HEADER_BYTES, { src: qd.src, dst: qd.dst, protocol: IP_PROTO_TCP, id: 0 }, qd.totalLength - IPV4_MIN_HEADER_BYTES);
  const t = o + ICMP_HEADER_BYTES + IPV4_MIN_HEADER_BYTES;
  out[t] = qd.srcPort >>> 8;
  out[t + 1] = qd.srcPort & 0xff;
  out[t + 2] = qd.dstPort >>> 8;
  out[t + 3] = qd.dstPort & 0xff;
  out[t + 4] = qd.seq >>> 24;
  out[t + 5] = (qd.seq >>> 16) & 0xff;
  out[t + 6] = (qd.seq >>> 8) & 0xff;
  out[t + 7] = qd.seq & 0xff;
  const sum = internetChecksum(out, o, out.length);
  out[o + 2] = sum >>> 8;
  out[o + 3] = sum & 0xff;
  writeIpv4Header(out, 0, { src: ip.src, dst: ip.dst, protocol: IP_PROTO_ICMP, id: ip.id, ttl: ip.ttl ?? 64, dontFragment: false }, icmpLength);
  return out;
}
