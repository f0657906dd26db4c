/** Whole IPv4+TCP packets: what the stack emits and what handlePacket receives. */
import type { Ipv4Addr } from './addr.js';
import { IPV4_MIN_HEADER_BYTES, IP_PROTO_TCP, parseIpv4, writeIpv4Header, type Ipv4DropReason, type Ipv4Header } from './ipv4.js';
import { parseTcp, tcpSegmentLength, writeTcp, type TcpDropReason, type TcpSegment, type TcpSegmentFields } from './tcp.js';

export interface IpFields {
  src: Ipv4Addr;
  dst: Ipv4Addr;
  id: number;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
}

/** Encode one IPv4 packet carrying one TCP segment, in one allocation. */
export function buildTcpPacket(ip: IpFields, seg: TcpSegmentFields): Uint8Array {
  const tcpLength = tcpSegmentLength(seg);
  const out = new Uint8Array(IPV4_MIN_HEADER_BYTES + tcpLength);
  writeTcp(out, IPV4_MIN_HEADER_BYTES, ip.src, ip.dst, seg);
  // One object shape per call site (no spread): this runs once per packet sent.
  writeIpv4Header(out, 0, { src: ip.src, dst: ip.dst, protocol: IP_PROTO_TCP, id: ip.id, ttl: ip.ttl ?? 64, tos: ip.tos ?? 0, dontFragment: ip.dontFragment ?? true }, tcpLength);
  return out;
}

export type TcpPacketParseResult =
  | { ok: true; ip: Ipv4Header; segment: TcpSegment }
  | { ok: false; reason: Ipv4DropReason | TcpDropReason | 'not-tcp' };

/** Parse an IPv4 packet and the TCP segment inside it. Never throws. */
export function parseTcpPacket(bytes: Uint8Array, verifyChecksum = true): TcpPacketParseResult {
  const ip = parseIpv4(bytes);
  if (!ip.ok) return ip;
  if (ip.header.protocol !== IP_PROTO_TCP) return { ok: false, reason: 'not-tcp' };
  const tcp = parseTcp(ip.header.src, ip.header.dst, ip.payload, verifyChecksum);
  if (!tcp.ok) return tcp;
  return { ok: true, ip: ip.header, segment: tcp.segment };
}
