/**
 * Ethernet II framing (IEEE 802.3 clause 3.2.6 Type interpretation, "DIX" framing as
 * RFC 894 uses it for IPv4): destination MAC, source MAC, EtherType, payload. No preamble
 * and no FCS: a TAP device hands frames over without them, and the kernel adds and strips
 * the FCS. Frames are not padded to the 60-byte minimum either: the driver below the TAP
 * pads short frames on a physical link, and parsers ignore trailing padding.
 *
 * MAC addresses are numbers (48 bits, 0 .. 2^48-1, first octet most significant), like
 * Ipv4Addr: plain data that compares with === and snapshots as a number.
 */
import type { Ipv4Addr } from './addr.js';

/** A 48-bit MAC address as an unsigned integer, e.g. ff:ff:ff:ff:ff:ff = 0xffff_ffff_ffff. */
export type MacAddr = number;

export const ETHERNET_HEADER_BYTES = 14;
/** Smallest frame on the wire without FCS (64-byte minimum less 4 bytes of FCS). */
export const ETHERNET_MIN_FRAME_BYTES = 60;

export const MAC_BROADCAST: MacAddr = 0xffff_ffff_ffff;
export const MAC_ZERO: MacAddr = 0;

// EtherTypes (IEEE Registration Authority).
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q tag
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_LLDP = 0x88cc;
/** IEEE 802.3: a Type/Length field below this is a length (802.3 / LLC frame, e.g. STP). */
export const ETHERTYPE_MIN = 0x0600;

const TWO_POW_40 = 2 ** 40;
const TWO_POW_32 = 2 ** 32;

export interface EthernetHeader {
  dst: MacAddr;
  src: MacAddr;
  etherType: number;
}

export type EthernetDropReason = 'eth-truncated' | 'eth-not-ethernet-ii';

export type EthernetParseResult =
  | { ok: true; header: EthernetHeader; payload: Uint8Array }
  | { ok: false; reason: EthernetDropReason };

function isMac(mac: unknown): mac is MacAddr {
  return typeof mac === 'number' && Number.isInteger(mac) && mac >= 0 && mac <= MAC_BROADCAST;
}

/** First octet: the one that carries the I/G and U/L bits (IEEE 802 §8.2). */
function firstOctet(mac: MacAddr): number {
  return Math.floor(mac / TWO_POW_40) & 0xff;
}

/** I/G bit set: a group (multicast) address; broadcast is one of them (IEEE 802 §8.2). */
export function isMulticastMac(mac: MacAddr): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

export function isBroadcastMac(mac: MacAddr): boolean {
  return mac === MAC_BROADCAST;
}

/** U/L bit set: a locally administered address, not one assigned by a manufacturer's OUI. */
export function isLocallyAdministeredMac(mac: MacAddr): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}

/** Writes `mac` as six octets at `at`. */
export function writeMac(out: Uint8Array, at: number, mac: MacAddr): void {
  const high = Math.floor(mac / TWO_POW_32); // octets 0-1
  const low = mac - high * TWO_POW_32; // octets 2-5
  out[at] = high >>> 8;
  out[at + 1] = high & 0xff;
  out[at + 2] = low >>> 24;
  out[at + 3] = (low >>> 16) & 0xff;
  out[at + 4] = (low >>> 8) & 0xff;
  out[at + 5] = low & 0xff;
}

/** Reads six octets at `at` (the caller checks the length). */
export function readMac(bytes: Uint8Array, at: number): MacAddr {
  const high = (bytes[at]! << 8) | bytes[at + 1]!;
  const low = ((bytes[at + 2]! << 24) | (bytes[at + 3]! << 16) | (bytes[at + 4]! << 8) | bytes[at + 5]!) >>> 0;
  return high * TWO_POW_32 + low;
}

/** Parses "02:66:c0:00:02:0a" (or with '-' separators, either case). Throws RangeError on bad text. */
export function parseMac(text: string): MacAddr {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text);
  if (m === null) throw new RangeError(`not a MAC address: ${JSON.stringify(text)}`);
  let value = 0;
  for (const i of [1, 3, 4, 5, 6, 7]) value = value * 256 + parseInt(m[i]!, 16);
  return value;
}

/** Lower-case colon notation, as `ip link` prints it. */
export function formatMac(mac: MacAddr): string {
  if (!isMac(mac)) throw new RangeError(`not a MAC address value: ${String(mac)}`);
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * The default service MAC of a service address: 02:66 followed by the four octets of the
 * IPv4 address (192.0.2.10 -> 02:66:c0:00:02:0a). 0x02 sets the U/L bit (locally
 * administered) and clears the I/G bit (unicast), so it can never collide with a
 * manufacturer's address; 0x66 is 'f' for ftcp, which keeps it apart from other schemes that
 * embed an IPv4 address after a fixed prefix (Docker uses 02:42). Both replicas derive the
 * same MAC from the same address, so the client's neighbour entry survives a failover.
 */
export function serviceMacFor(address: Ipv4Addr): MacAddr {
  return 0x0266 * TWO_POW_32 + (address >>> 0);
}

/**
 * Parses an Ethernet II header. The payload is a view (no copy) of everything after the
 * header, padding included: the payload's own parser knows its length. Never throws.
 */
export function parseEthernet(frame: Uint8Array): EthernetParseResult {
  if (frame.length < ETHERNET_HEADER_BYTES) return { ok: false, reason: 'eth-truncated' };
  const etherType = (frame[12]! << 8) | frame[13]!;
  // IEEE 802.3 clause 3.2.6: values below 0x0600 are a length (802.3/LLC framing, not ours).
  if (etherType < ETHERTYPE_MIN) return { ok: false, reason: 'eth-not-ethernet-ii' };
  return { ok: true, header: { dst: readMac(frame, 0), src: readMac(frame, 6), etherType }, payload: frame.subarray(ETHERNET_HEADER_BYTES) };
}

/** Builds one frame: the 14-byte header, then `payload`. Throws RangeError on a bad field. */
export function emitEthernet(header: EthernetHeader, payload: Uint8Array): Uint8Array {
  if (!isMac(header.dst) || !isMac(header.src)) throw new RangeError('emitEthernet: MAC addresses must be integers in [0, 2^48)');
  if (!Number.isInteger(header.etherType) || header.etherType < ETHERTYPE_MIN || header.etherType > 0xffff) {
    throw new RangeError(`emitEthernet: bad EtherType ${String(header.etherType)}`);
  }
  const out = new Uint8Array(ETHERNET_HEADER_BYTES + payload.length);
  writeMac(out, 0, header.dst);
  writeMac(out, 6, header.src);
  out[12] = header.etherType >>> 8;
  out[13] = header.etherType & 0xff;
  out.set(payload, ETHERNET_HEADER_BYTES);
  return out;
}
