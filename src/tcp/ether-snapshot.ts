/**
 * EtherHost snapshot() / restore() bytes: the frame of snapshot-frame.ts (magic "FTCPETHR",
 * version, length, CRC-32) around a binary, big-endian payload with fields in a fixed order:
 *      config   f64 address, prefixLength, mac, gatewayAddress, gatewayMac, arpRetryUs,
 *               arpRequests, reachableUs, pendingPerNeighbour, pendingTotal, maxNeighbours
 *      u32 n, then n neighbours in table order: f64 ip, mac, confirmedUs, requestsSent,
 *               nextRequestUs; u8 state; u32 k, then k packets (u32 length, bytes)
 *      u32 n, then n queued frames (u32 length, bytes)
 *      f64 announceLeft, announceNextUs
 *      stats    f64 per counter in STAT_KEYS order; u32 n, then n drops (u8 name length,
 *               ASCII name, f64 count)
 * Every number is an integer that a double holds exactly (MACs are 48 bits, times are µs,
 * "none" is -1), so f64 is lossless. Anything wrong with the bytes is a StackError('EINVAL').
 */
import type { EtherDropReason, EtherHostState, EtherHostStats, ResolvedEtherHostConfig } from './ether-host.js';
import type { Neighbour, NeighbourState } from './neighbours.js';
import { frameSnapshot, snapshotCorrupt, unframeSnapshot, type SnapshotFormat } from './snapshot-frame.js';
import { ByteReader, ByteWriter } from '../wire/bytes.js';

export const ETHER_SNAPSHOT_VERSION = 1;
const FORMAT: SnapshotFormat = { magic: 'FTCPETHR', version: ETHER_SNAPSHOT_VERSION, what: 'EtherHost snapshot' };

const CONFIG_KEYS = [
  'address',
  'prefixLength',
  'mac',
  'gatewayAddress',
  'gatewayMac',
  'arpRetryUs',
  'arpRequests',
  'reachableUs',
  'pendingPerNeighbour',
  'pendingTotal',
  'maxNeighbours',
] as const satisfies readonly (keyof ResolvedEtherHostConfig)[];
const STAT_KEYS = ['framesIn', 'framesOut', 'ipv4In', 'ipv4Out', 'arpIn', 'arpRequestsOut', 'arpRepliesOut', 'announcementsOut'] as const satisfies readonly Exclude<
  keyof EtherHostStats,
  'drops'
>[];
const STATES: readonly NeighbourState[] = ['incomplete', 'reachable', 'probe', 'static'];

function writeBytes(o: ByteWriter, b: Uint8Array): void {
  o.u32(b.length);
  o.bytes(b);
}

function readBytes(r: ByteReader): Uint8Array {
  return r.bytes(r.u32());
}

export function encodeEtherHostSnapshot(st: EtherHostState): Uint8Array {
  const o = new ByteWriter();
  for (const k of CONFIG_KEYS) o.f64(st.cfg[k]);
  o.u32(st.neighbours.size);
  for (const n of st.neighbours.values()) {
    for (const v of [n.ip, n.mac, n.confirmedUs, n.requestsSent, n.nextRequestUs]) o.f64(v);
    o.u8(STATES.indexOf(n.state));
    o.u32(n.pending.length);
    for (const p of n.pending) writeBytes(o, p);
  }
  o.u32(st.out.length);
  for (const f of st.out) writeBytes(o, f);
  o.f64(st.announceLeft);
  o.f64(st.announceNextUs);
  for (const k of STAT_KEYS) o.f64(st.stats[k]);
  const drops = Object.entries(st.stats.drops);
  o.u32(drops.length);
  for (const [name, count] of drops) {
    o.u8(name.length);
    for (let i = 0; i < name.length; i++) o.u8(name.charCodeAt(i));
    o.f64(count);
  }
  return frameSnapshot(FORMAT, o.finish());
}

export function decodeEtherHostSnapshot(bytes: Uint8Array): EtherHostState {
  const r = new ByteReader(unframeSnapshot(FORMAT, bytes));
  try {
    return decodePayload(r);
  } catch (e) {
    if (e instanceof RangeError) snapshotCorrupt(FORMAT, e.message);
    throw e;
  }
}

function decodePayload(r: ByteReader): EtherHostState {
  const cfg = {} as Record<(typeof CONFIG_KEYS)[number], number>;
  for (const k of CONFIG_KEYS) cfg[k] = r.int();
  const neighbours = new Map<number, Neighbour>();
  for (let i = r.u32(); i > 0; i--) {
    const [ip, mac, confirmedUs, requestsSent, nextRequestUs] = [r.int(), r.int(), r.int(), r.int(), r.int()];
    const state = STATES[r.u8()] ?? snapshotCorrupt(FORMAT, 'unknown neighbour state');
    const pending: Uint8Array[] = [];
    for (let k = r.u32(); k > 0; k--) pending.push(readBytes(r));
    neighbours.set(ip, { ip, mac, state, confirmedUs, requestsSent, nextRequestUs, pending });
  }
  const out: Uint8Array[] = [];
  for (let i = r.u32(); i > 0; i--) out.push(readBytes(r));
  const announceLeft = r.int();
  const announceNextUs = r.int();
  const stats = { drops: {} } as EtherHostStats;
  for (const k of STAT_KEYS) stats[k] = r.int();
  for (let i = r.u32(); i > 0; i--) {
    let name = '';
    for (let n = r.u8(); n > 0; n--) name += String.fromCharCode(r.u8());
    stats.drops[name as EtherDropReason] = r.int();
  }
  r.end();
  return { cfg: cfg as ResolvedEtherHostConfig, neighbours, out, announceLeft, announceNextUs, stats };
}
