/**
 * IPv4 header codec (RFC 791). Parsing never reads past the buffer and never throws:
 * a malformed header is a returned reason, which the stack counts as a drop.
 */
import type { Ipv4Addr } from './addr.js';
import { internetChecksum } from './checksum.js';

export const IPV4_MIN_HEADER_BYTES = 20;
export const IP_PROTO_TCP = 6;

export interface Ipv4Header {
  /** Header length in bytes (IHL * 4), options included. */
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: Ipv4Addr;
  dst: Ipv4Addr;
}

export type Ipv4DropReason =
  | 'ipv4-truncated'
  | 'ipv4-bad-version'
  | 'ipv4-bad-ihl'
  | 'ipv4-bad-total-length'
  | 'ipv4-bad-checksum'
  | 'ipv4-fragment';

export type Ipv4ParseResult =
  | { ok: true; header: Ipv4Header; payload: Uint8Array }
  | { ok: false; reason: Ipv4DropReason };

/**
 * Parse an IPv4 packet. The payload is a view (no copy) of bytes [IHL*4, totalLength);
 * bytes after totalLength (link padding) are ignored. IP options are skipped (RFC 1122
 * 3.2.1.8: a host must pass over options it does not implement). Fragments are
 * rejected: this stack does not reassemble IP fragments, and it sends with DF set.
 */
export function parseIpv4(packet: Uint8Array): Ipv4ParseResult {
  if (packet.length < IPV4_MIN_HEADER_BYTES) return { ok: false, reason: 'ipv4-truncated' };
  const b0 = packet[0]!;
  if (b0 >> 4 !== 4) return { ok: false, reason: 'ipv4-bad-version' };
  const headerLength = (b0 & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_BYTES || headerLength > packet.length) {
    return { ok: false, reason: 'ipv4-bad-ihl' };
  }
  const totalLength = (packet[2]! << 8) | packet[3]!;
  if (totalLength < headerLength || totalLength > packet.length) {
    return { ok: false, reason: 'ipv4-bad-total-length' };
  }
  // RFC 1122 3.2.1.2: a datagram whose header checksum fails is silently discarded.
  if (internetChecksum(packet, 0, headerLength) !== 0) return { ok: false, reason: 'ipv4-bad-checksum' };
  const flagsFrag = (packet[6]! << 8) | packet[7]!;
  const moreFragments = (flagsFrag & 0x2000) !== 0;
  const fragmentOffset = (flagsFrag & 0x1fff) * 8;
  if (moreFragments || fragmentOffset !== 0) return { ok: false, reason: 'ipv4-fragment' };
  const header: Ipv4Header = {
    headerLength,
    tos: packet[1]!,
    totalLength,
    id: (packet[4]! << 8) | packet[5]!,
    dontFragment: (flagsFrag & 0x4000) !== 0,
    moreFragments,
    fragmentOffset,
    ttl: packet[8]!,
    protocol: packet[9]!,
    checksum: (packet[10]! << 8) | packet[11]!,
    src: ((packet[12]! << 24) | (packet[13]! << 16) | (packet[14]! << 8) | packet[15]!) >>> 0,
    dst: ((packet[16]! << 24) | (packet[17]! << 16) | (packet[18]! << 8) | packet[19]!) >>> 0,
  };
  return { ok: true, header, payload: packet.subarray(headerLength, totalLength) };
}

export interface Ipv4EmitFields {
  src: Ipv4Addr;
  dst: Ipv4Addr;
  protocol: number;
  id: number;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
}

/** Write a 20-byte IPv4 header (no options) into out[offset..offset+20), checksum included. */
export function writeIpv4Header(out: Uint8Array, offset: number, fields: Ipv4EmitFields, payloadLength: number): void {
  const totalLength = IPV4_MIN_HEADER_BYTES + payloadLength;
  if (totalLength > 0xffff) throw new RangeError(`IPv4 packet too long: ${totalLength} bytes`);
  const o = offset;
  out[o] = 0x45;
  out[o + 1] = (fields.tos ?? 0) & 0xff;
  out[o + 2] = totalLength >>> 8;
  out[o + 3] = totalLength & 0xff;
  out[o + 4] = (fields.id >>> 8) & 0xff;
  out[o + 5] = fields.id & 0xff;
  out[o + 6] = fields.dontFragment ?? true ? 0x40 : 0;
  out[o + 7] = 0;
  out[o + 8] = (fields.ttl ?? 64) & 0xff;
  out[o + 9] = fields.protocol & 0xff;
  out[o + 10] = 0;
  out[o + 11] = 0;
  out[o + 12] = fields.src >>> 24;
  out[o + 13] = (fields.src >>> 16) & 0xff;
  out[o + 14] = (fields.src >>> 8) & 0xff;
  out[o + 15] = fields.src & 0xff;
  out[o + 16] = fields.dst >>> 24;
  out[o + 17] = (fields.dst >>> 16) & 0xff;
  out[o + 18] = (fields.dst >>> 8) & 0xff;
  out[o + 19] = fields.dst & 0xff;
  const sum = internetChecksum(out, o, o + IPV4_MIN_HEADER_BYTES);
  out[o + 10] = sum >>> 8;
  out[o + 11] = sum & 0xff;
}

/** A whole IPv4 packet: a 20-byte header followed by a copy of the payload. */
export function emitIpv4(fields: Ipv4EmitFields, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV4_MIN_HEADER_BYTES + payload.length);
  writeIpv4Header(out, 0, fields, payload.length);
  out.set(payload, IPV4_MIN_HEADER_BYTES);
  return out;
}
