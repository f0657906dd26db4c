/**
 * Control datagrams between a host's UDP link and the switch: the ARP of this network
 * (DESIGN.md, "Network"). They travel on the same UDP sockets as the IP packets and are
 * told apart by their first byte: an IPv4 packet starts with 0x4_ (version 4), a control
 * datagram with 0x00.
 *
 * Layout (16 bytes, big-endian):
 *
 *   offset size field
 *   0      1    0x00 (marks a control datagram; no IP version is 0)
 *   1      1    control format version (1)
 *   2      1    type: 1 register, 2 registered, 3 superseded
 *   3      1    reserved, zero
 *   4      4    virtual IPv4 address
 *   8      4    epoch
 *   12     4    CRC-32 of bytes 0..11
 *
 *   register   host -> switch: "I am address A, epoch E". Sent again until answered, then
 *              refreshed now and then (so a restarted switch relearns the table).
 *   registered switch -> host: the switch now sends A's packets to this host (E echoed).
 *   superseded switch -> host: another host holds A with epoch E, at least this host's
 *              claim (a register that lost, or a holder told that A moved away).
 *
 * This is control format version 1, unauthenticated: what a switch without a cluster key
 * speaks. With a key, hosts and switch speak version 2 (64 bytes, with a MAC, a nonce and
 * a counter, switch-auth.ts), and a keyed switch refuses version 1 registers.
 */
import { crc32 } from '../wire/crc32.js';
import type { Ipv4Addr } from '../wire/addr.js';

export const CONTROL_MARK = 0x00;
export const CONTROL_VERSION = 1;
export const CONTROL_BYTES = 16;

export type SwitchControlType = 'register' | 'registered' | 'superseded';

export interface SwitchControl {
  type: SwitchControlType;
  address: Ipv4Addr;
  epoch: number;
}

const TYPE_CODE: Record<SwitchControlType, number> = { register: 1, registered: 2, superseded: 3 };
const TYPES: readonly SwitchControlType[] = ['register', 'registered', 'superseded'];

export function encodeControl(m: SwitchControl): Uint8Array {
  if (!Number.isInteger(m.epoch) || m.epoch < 0 || m.epoch > 0xffff_ffff) throw new RangeError(`switch control: epoch must be a u32, got ${m.epoch}`);
  const out = new Uint8Array(CONTROL_BYTES);
  const view = new DataView(out.buffer);
  out[0] = CONTROL_MARK;
  out[1] = CONTROL_VERSION;
  out[2] = TYPE_CODE[m.type];
  view.setUint32(4, m.address >>> 0);
  view.setUint32(8, m.epoch >>> 0);
  view.setUint32(12, crc32(out, 0, 12));
  return out;
}

/** True when the datagram claims to be a control datagram (it may still be corrupt). */
export function isControl(datagram: Uint8Array): boolean {
  return datagram.length > 0 && datagram[0] === CONTROL_MARK;
}

/** Decode a control datagram; undefined when corrupt. Never throws. */
export function decodeControl(d: Uint8Array): SwitchControl | undefined {
  if (d.length !== CONTROL_BYTES || d[0] !== CONTROL_MARK || d[1] !== CONTROL_VERSION || d[3] !== 0) return undefined;
  const view = new DataView(d.buffer, d.byteOffset, d.length);
  if (crc32(d, 0, 12) !== view.getUint32(12)) return undefined;
  const type = TYPES[d[2]! - 1];
  if (type === undefined) return undefined;
  return { type, address: view.getUint32(4), epoch: view.getUint32(8) };
}
