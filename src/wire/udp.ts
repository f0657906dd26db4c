/**
 * UDP datagrams in IPv4 (RFC 768). Control-plane traffic (the log channel, the arbiter)
 * travels as these on the simulated network, so that partitions and delays apply to it
 * like to any link, and is written as these to captures, so that Wireshark dissects them
 * (as UDP on ports it does not know, with valid checksums).
 */
import { foldChecksum, pseudoHeaderSum, sum16 } from './checksum.js';
import { emitIpv4 } from './ipv4.js';
import type { Ipv4Addr } from './addr.js';

export const IP_PROTO_UDP = 17;

/** A whole IPv4 packet carrying one UDP datagram. */
export function udpPacket(src: Ipv4Addr, dst: Ipv4Addr, srcPort: number, dstPort: number, payload: Uint8Array, id: number): Uint8Array {
  const length = 8 + payload.length;
  const udp = new Uint8Array(length);
  udp[0] = srcPort >>> 8;
  udp[1] = srcPort & 0xff;
  udp[2] = dstPort >>> 8;
  udp[3] = dstPort & 0xff;
  udp[4] = length >>> 8;
  udp[5] = length & 0xff;
  udp.set(payload, 8);
  // RFC 768: the checksum covers a pseudo-header, the UDP header and the data; 0 is sent as 0xffff.
  const sum = foldChecksum(sum16(udp, 0, length, pseudoHeaderSum(src, dst, IP_PROTO_UDP, length)));
  const checksum = sum === 0 ? 0xffff : sum;
  udp[6] = checksum >>> 8;
  udp[7] = checksum & 0xff;
  return emitIpv4({ src, dst, protocol: IP_PROTO_UDP, id: id & 0xffff }, udp);
}

export interface UdpDatagram {
  src: Ipv4Addr;
  dst: Ipv4Addr;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** Parse an IPv4/UDP packet (header lengths only; the simulator made it). Undefined if it is not one. */
export function parseUdp(p: Uint8Array): UdpDatagram | undefined {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== IP_PROTO_UDP) return undefined;
  const ihl = (p[0]! & 0x0f) * 4;
  const total = (p[2]! << 8) | p[3]!;
  if (total > p.length || ihl + 8 > total) return undefined;
  const u32 = (o: number) => ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
  const len = (p[ihl + 4]! << 8) | p[ihl + 5]!;
  if (len < 8 || ihl + len > total) return undefined;
  return {
    src: u32(12),
    dst: u32(16),
    srcPort: (p[ihl]! << 8) | p[ihl + 1]!,
    dstPort: (p[ihl + 2]! << 8) | p[ihl + 3]!,
    payload: p.subarray(ihl + 8, ihl + len),
  };
}

/** TCP payload length of a raw IPv4/TCP packet (0 when not TCP or too short). */
export function tcpPayloadLength(p: Uint8Array): number {
  if (p.length < 40 || p[9] !== 6) return 0;
  const ihl = (p[0]! & 0x0f) * 4;
  const total = (p[2]! << 8) | p[3]!;
  const dataOffset = (p[ihl + 12]! >> 4) * 4;
  return Math.max(0, total - ihl - dataOffset);
}
