/**
 * ARP for IPv4 over Ethernet (RFC 826), and the announcement of RFC 5227 §3.
 *
 * RFC 826 packet, 28 bytes for Ethernet/IPv4:
 *   ar$hrd 16 bits  hardware space (1 = Ethernet)
 *   ar$pro 16 bits  protocol space (0x0800 = IPv4, the EtherType)
 *   ar$hln  8 bits  hardware address length (6)
 *   ar$pln  8 bits  protocol address length (4)
 *   ar$op  16 bits  opcode (1 REQUEST, 2 REPLY)
 *   ar$sha, ar$spa  sender hardware / protocol address
 *   ar$tha, ar$tpa  target hardware / protocol address
 * Parsing never throws: a short or foreign packet is a returned reason. The opcode is not
 * checked here: RFC 826 merges the sender's addresses before it looks at the opcode.
 */
import type { Ipv4Addr } from './addr.js';
import { emitEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, MAC_ZERO, readMac, writeMac, type MacAddr } from './ethernet.js';

export const ARP_BYTES = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  /** ar$op: ARP_REQUEST, ARP_REPLY, or another value a receiver ignores after merging. */
  op: number;
  senderMac: MacAddr;
  senderIp: Ipv4Addr;
  targetMac: MacAddr;
  targetIp: Ipv4Addr;
}

export type ArpDropReason =
  | 'arp-truncated' // fewer than 28 bytes
  | 'arp-unsupported' // ar$hrd is not Ethernet or ar$pro is not IPv4 (RFC 826: not ours to answer)
  | 'arp-bad-length'; // ar$hln / ar$pln do not match Ethernet / IPv4

export type ArpParseResult = { ok: true; arp: ArpPacket } | { ok: false; reason: ArpDropReason };

function readIpv4(b: Uint8Array, at: number): Ipv4Addr {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeIpv4(out: Uint8Array, at: number, addr: Ipv4Addr): void {
  out[at] = addr >>> 24;
  out[at + 1] = (addr >>> 16) & 0xff;
  out[at + 2] = (addr >>> 8) & 0xff;
  out[at + 3] = addr & 0xff;
}

/** Parses an ARP packet (the Ethernet payload); bytes after the 28 (frame padding) are ignored. */
export function parseArp(bytes: Uint8Array): ArpParseResult {
  if (bytes.length < ARP_BYTES) return { ok: false, reason: 'arp-truncated' };
  const hrd = (bytes[0]! << 8) | bytes[1]!;
  const pro = (bytes[2]! << 8) | bytes[3]!;
  // RFC 826 "Packet Reception": do I have the hardware type in ar$hrd, do I speak ar$pro?
  if (hrd !== ARP_HTYPE_ETHERNET || pro !== ETHERTYPE_IPV4) return { ok: false, reason: 'arp-unsupported' };
  // RFC 826: "[optionally check the hardware length ar$hln]" (and ar$pln): the field
  // offsets below depend on them.
  if (bytes[4] !== 6 || bytes[5] !== 4) return { ok: false, reason: 'arp-bad-length' };
  return {
    ok: true,
    arp: {
      op: (bytes[6]! << 8) | bytes[7]!,
      senderMac: readMac(bytes, 8),
      senderIp: readIpv4(bytes, 14),
      targetMac: readMac(bytes, 18),
      targetIp: readIpv4(bytes, 24),
    },
  };
}

/** The 28-byte ARP packet (RFC 826 "Packet format"). */
export function emitArp(arp: ArpPacket): Uint8Array {
  if (!Number.isInteger(arp.op) || arp.op < 0 || arp.op > 0xffff) throw new RangeError(`emitArp: bad opcode ${String(arp.op)}`);
  const out = new Uint8Array(ARP_BYTES);
  out[1] = ARP_HTYPE_ETHERNET;
  out[2] = ETHERTYPE_IPV4 >>> 8;
  out[3] = ETHERTYPE_IPV4 & 0xff;
  out[4] = 6;
  out[5] = 4;
  out[6] = arp.op >>> 8;
  out[7] = arp.op & 0xff;
  writeMac(out, 8, arp.senderMac);
  writeIpv4(out, 14, arp.senderIp);
  writeMac(out, 18, arp.targetMac);
  writeIpv4(out, 24, arp.targetIp);
  return out;
}

/** An Ethernet frame carrying `arp`, from its sender's MAC to `dst`. */
export function emitArpFrame(dst: MacAddr, arp: ArpPacket): Uint8Array {
  return emitEthernet({ dst, src: arp.senderMac, etherType: ETHERTYPE_ARP }, emitArp(arp));
}

/**
 * RFC 826: a request for `targetIp`, broadcast. ar$tha is zero (RFC 826 leaves it "whatever";
 * RFC 5227 §2.1.1 and Linux send zero). `dst` may be the neighbour's MAC instead, for a
 * unicast poll of an entry already known (RFC 1122 2.3.2.1).
 */
export function arpRequestFrame(senderMac: MacAddr, senderIp: Ipv4Addr, targetIp: Ipv4Addr, dst: MacAddr = MAC_BROADCAST): Uint8Array {
  return emitArpFrame(dst, { op: ARP_REQUEST, senderMac, senderIp, targetMac: MAC_ZERO, targetIp });
}

/**
 * RFC 826: the reply to `request`: "swap hardware and protocol fields, putting the local
 * hardware and protocol addresses in the sender fields", opcode REPLY, sent to the requester.
 */
export function arpReplyFrame(localMac: MacAddr, localIp: Ipv4Addr, request: ArpPacket): Uint8Array {
  return emitArpFrame(request.senderMac, { op: ARP_REPLY, senderMac: localMac, senderIp: localIp, targetMac: request.senderMac, targetIp: request.senderIp });
}

/**
 * RFC 5227 §3 ARP Announcement: an ARP request, broadcast, with ar$spa and ar$tpa both the
 * announced address and ar$tha zero ("the 'target hardware address' field is ignored and
 * SHOULD be set to all zeroes").
 */
export function arpAnnouncementFrame(mac: MacAddr, address: Ipv4Addr): Uint8Array {
  return emitArpFrame(MAC_BROADCAST, { op: ARP_REQUEST, senderMac: mac, senderIp: address, targetMac: MAC_ZERO, targetIp: address });
}
