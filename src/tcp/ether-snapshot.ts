/**
 * EtherHost snapshot() / restore() bytes. Binary, big-endian, fields in a fixed order:
 *
 *   0  8 bytes  magic "FTCPETHR"
 *   8  u32      format version (ETHER_SNAPSHOT_VERSION)
 *  12  u32      payload length
 *  16  u32      CRC-32 (IEEE) of the payload
 *  20  payload:
 *      config   f64 address, prefixLength, mac, gatewayAddress, gatewayMac, arpRetryUs,
 *               arpRequests, reachableUs, pendingPerNeighbour, pendingTotal, maxNeighbours
 *      u32 n, then n neighbours in table order: f64 ip, mac, confirmedUs, requestsSent,
 *               nextRequestUs; u8 state; u32 k, then k packets (u32 length, bytes)
 *      u32 n, then n queued frames (u32 length, bytes)
 *      f64 announceLeft, announceNextUs
 *      stats    f64 per counter in STAT_KEYS order; u32 n, then n drops (u8 name length,
 *               ASCII name, f64 count)
 * Every number is an integer that fits a double exactly (MACs are 48 bits, times are µs),
 * so f64 is lossless. Anything wrong with the bytes is a StackError('EINVAL').
 */
import type { EtherDropReason, EtherHostState, EtherHostStats, ResolvedEtherHostConfig } from './ether-host.js';
import type { Neighbour, NeighbourState } from './neighbours.js';
import { StackError } from './types.js';
import { crc32 } from '../wire/crc32.js';

export const ETHER_SNAPSHOT_VERSION = 1;
const MAGIC = 'FTCPETHR';
const HEADER_BYTES = 20;

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

class Out {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.length, v);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function bad(why: string): never {
  throw new StackError('EINVAL', `EtherHost.restore: corrupt snapshot: ${why}`);
}

class In {
  private at = 0;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private need(n: number): void {
    if (this.at + n > this.b.length) bad(`payload ends early (${n} bytes wanted at offset ${this.at})`);
  }
  u8(): number {
    this.need(1);
    return this.b[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  /** An integer f64 (every number in the snapshot is one). */
  int(): number {
    this.need(8);
    const v = this.view.getFloat64(this.at);
    this.at += 8;
    if (!Number.isSafeInteger(v)) bad(`non-integer number ${v} at offset ${this.at - 8}`);
    return v;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const v = this.b.slice(this.at, this.at + n);
    this.at += n;
    return v;
  }
  end(): void {
    if (this.at !== this.b.length) bad(`${this.b.length - this.at} bytes left over`);
  }
}

export function encodeEtherHostSnapshot(st: EtherHostState): Uint8Array {
  const o = new Out();
  for (const k of CONFIG_KEYS) o.f64(st.cfg[k]);
  o.u32(st.neighbours.size);
  for (const n of st.neighbours.values()) {
    for (const v of [n.ip, n.mac, n.confirmedUs, n.requestsSent, n.nextRequestUs]) o.f64(v);
    o.u8(STATES.indexOf(n.state));
    o.u32(n.pending.length);
    for (const p of n.pending) o.bytes(p);
  }
  o.u32(st.out.length);
  for (const f of st.out) o.bytes(f);
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
  const payload = o.done();
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, ETHER_SNAPSHOT_VERSION);
  dv.setUint32(12, payload.length);
  dv.setUint32(16, crc32(payload));
  out.set(payload, HEADER_BYTES);
  return out;
}

export function decodeEtherHostSnapshot(bytes: Uint8Array): EtherHostState {
  if (!(bytes instanceof Uint8Array)) bad('not a Uint8Array');
  if (bytes.length < HEADER_BYTES) bad(`${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) bad('bad magic (not an EtherHost snapshot)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8);
  if (version !== ETHER_SNAPSHOT_VERSION) bad(`format version ${version}, this build reads version ${ETHER_SNAPSHOT_VERSION}`);
  const length = dv.getUint32(12);
  if (length !== bytes.length - HEADER_BYTES) bad(`payload length ${length} but ${bytes.length - HEADER_BYTES} bytes follow the header`);
  const payload = bytes.subarray(HEADER_BYTES);
  if (crc32(payload) !== dv.getUint32(16)) bad('CRC mismatch');
  const r = new In(payload);
  const cfg = {} as Record<(typeof CONFIG_KEYS)[number], number>;
  for (const k of CONFIG_KEYS) cfg[k] = r.int();
  const neighbours = new Map<number, Neighbour>();
  for (let i = r.u32(); i > 0; i--) {
    const [ip, mac, confirmedUs, requestsSent, nextRequestUs] = [r.int(), r.int(), r.int(), r.int(), r.int()];
    const state = STATES[r.u8()] ?? bad('unknown neighbour state');
    const pending: Uint8Array[] = [];
    for (let k = r.u32(); k > 0; k--) pending.push(r.bytes());
    neighbours.set(ip, { ip, mac, state, confirmedUs, requestsSent, nextRequestUs, pending });
  }
  const out: Uint8Array[] = [];
  for (let i = r.u32(); i > 0; i--) out.push(r.bytes());
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
