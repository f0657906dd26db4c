/**
 * What a flight-recorder replay (`ftcp replay`, replay.ts) reads from captures, as plain
 * data: the log channel's frames, the RSM configuration to start from, and the outputs
 * O(i) a replica put on the wire. Nothing here reads a file: the caller hands in the
 * packets of a pcapng capture (src/pcap/reader.ts gives them), so this stays in the
 * deterministic layer and is testable without the CLI.
 *
 * The capture contract (written by src/sim/cluster.ts; any driver that wants its captures
 * replayable writes the same):
 *   - each log-channel frame (channel.ts) is the payload of an IPv4/UDP datagram (RFC 768)
 *     to or from UDP port LOG_CHANNEL_UDP_PORT;
 *   - one interface description (pcapng if_description) of the log capture contains
 *     `ftcp-rsm-config {JSON}` (describeRsmConfig): the RsmConfig and the time at which
 *     Rsm.create was called. JSON.stringify of a plain object: the same run gives the
 *     same bytes;
 *   - a packet a replica released carries the comment `O(i), epoch e` (i: the entry that
 *     produced it; e: the replica's epoch when it released it).
 */
import { APP_NAMES } from '../proxy/app.js';
import { UPSTREAM_APP } from '../proxy/upstream.js';
import { parseCaptureTag } from './capture-tags.js';
import { decodeChannel, type ChannelMessage } from './channel.js';
import { decodeEntry, frameLength, type LogEntry } from './log.js';
import type { RsmAppName, RsmConfig } from './rsm.js';

/** UDP port of the log channel in captures (src/wire/udp.ts re-exports it as LOG_PORT). */
export const LOG_CHANNEL_UDP_PORT = 47_001;
/** The log channel between replicas, in captures and in the simulator. */
export const LOG_PORT = LOG_CHANNEL_UDP_PORT;
/** The arbiter's test-and-set service, in captures and in the simulator. */
export const ARBITER_PORT = 47_002;
export const RSM_CONFIG_TAG = 'ftcp-rsm-config';

/** Where a replay starts when the log starts at entry 1: the fresh RSM every replica created. */
export interface ReplayBase {
  rsm: RsmConfig;
  /** The `startUs` given to Rsm.create. */
  startUs: number;
}

/** A packet of a capture, as src/pcap/reader.ts reads it (structurally: this layer cannot import pcap). */
export interface CapturedPacket {
  /** 1-based position in the file, as Wireshark numbers frames. */
  number: number;
  timeUs: number;
  data: Uint8Array;
  comments: readonly string[];
}

/** The text that carries the RSM configuration in a capture (an interface description). */
export function describeRsmConfig(base: ReplayBase): string {
  return `${RSM_CONFIG_TAG} ${JSON.stringify({ startUs: base.startUs, rsm: base.rsm })}`;
}

/**
 * Finds the RSM configuration in texts of a capture (interface descriptions, comments).
 * undefined: no text carries one; { error }: one does, but it does not parse.
 */
export function findRsmConfig(texts: readonly string[]): ReplayBase | { error: string } | undefined {
  for (const text of texts) {
    const at = text.indexOf(`${RSM_CONFIG_TAG} {`);
    if (at < 0) continue;
    const json = text.slice(at + RSM_CONFIG_TAG.length + 1);
    return parseRsmConfigJson(json);
  }
  return undefined;
}

/** Parses and checks `{startUs?, rsm: RsmConfig}` or a bare RsmConfig (what --rsm-config FILE holds). */
export function parseRsmConfigJson(json: string): ReplayBase | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return { error: `the RSM config is not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof value !== 'object' || value === null) return { error: 'the RSM config is not a JSON object' };
  const o = value as Record<string, unknown>;
  const rsm = (typeof o.rsm === 'object' && o.rsm !== null ? o.rsm : o) as Record<string, unknown>;
  const startUs = o.startUs ?? 0;
  if (!Number.isSafeInteger(startUs) || (startUs as number) < 0) return { error: 'the RSM config: startUs must be a non-negative integer' };
  // 'upstream': the app ran outside the RSM; its `app` entries in the log are all the replay needs.
  if (!(APP_NAMES as readonly unknown[]).includes(rsm.app) && rsm.app !== UPSTREAM_APP) return { error: `the RSM config: app must be one of ${APP_NAMES.join(', ')}, ${UPSTREAM_APP}` };
  if (!Number.isInteger(rsm.servicePort) || (rsm.servicePort as number) < 1 || (rsm.servicePort as number) > 65535) return { error: 'the RSM config: servicePort must be 1..65535' };
  const stack = rsm.stack as Record<string, unknown> | undefined;
  if (typeof stack !== 'object' || stack === null || !Array.isArray(stack.addresses) || !stack.addresses.every((a) => Number.isInteger(a)) || !Number.isInteger(stack.seed)) {
    return { error: 'the RSM config: stack must hold addresses (numbers) and an integer seed' };
  }
  return { rsm: { ...(rsm as unknown as RsmConfig), app: rsm.app as RsmAppName }, startUs: startUs as number };
}

/** A log-channel frame found in a capture. */
export interface LogFrame {
  packet: number;
  timeUs: number;
  src: number;
  dst: number;
  payload: Uint8Array;
}

/** IPv4/UDP datagrams to or from the log channel's port; other packets (the arbiter's) are left out. */
export function extractLogFrames(packets: readonly CapturedPacket[]): LogFrame[] {
  const out: LogFrame[] = [];
  for (const p of packets) {
    const d = p.data;
    if (d.length < 28 || d[0]! >> 4 !== 4 || d[9] !== 17) continue;
    const ihl = (d[0]! & 0x0f) * 4;
    const total = Math.min((d[2]! << 8) | d[3]!, d.length);
    if (ihl < 20 || ihl + 8 > total) continue;
    const srcPort = (d[ihl]! << 8) | d[ihl + 1]!;
    const dstPort = (d[ihl + 2]! << 8) | d[ihl + 3]!;
    if (srcPort !== LOG_CHANNEL_UDP_PORT && dstPort !== LOG_CHANNEL_UDP_PORT) continue;
    // RFC 768: the UDP length covers header and data; a corrupt one is clamped to the packet.
    const udpLength = Math.max(8, Math.min((d[ihl + 4]! << 8) | d[ihl + 5]!, total - ihl));
    const u32 = (o: number) => ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
    out.push({ packet: p.number, timeUs: p.timeUs, src: u32(12), dst: u32(16), payload: d.subarray(ihl + 8, ihl + udpLength) });
  }
  return out;
}

/** A packet a replica released, tagged with the entry that produced it. */
export interface CapturedOutput {
  packet: number;
  index: number;
  epoch: number;
  data: Uint8Array;
}

/** Packets whose comment says `O(i), epoch e`, in capture order. */
export function extractOutputs(packets: readonly CapturedPacket[]): CapturedOutput[] {
  const out: CapturedOutput[] = [];
  for (const p of packets) {
    for (const c of p.comments) {
      const tag = parseCaptureTag(c);
      if (tag?.epoch === undefined) continue;
      out.push({ packet: p.number, index: tag.index, epoch: tag.epoch, data: p.data });
      break;
    }
  }
  return out;
}

/** A log entry that could not be used, and where it was. */
export interface CorruptRecord {
  packet: number;
  /** The entry's index as its header says, when the header is readable (the CRC says it may be wrong). */
  index?: number;
  reason: string;
  /** True when an intact copy of the same entry was found elsewhere in the capture (a resend). */
  recovered?: boolean;
}

/** A decoded entry and the frame that carried it. */
export interface LoggedEntry {
  entry: LogEntry;
  packet: number;
  bytes: Uint8Array;
}

/** A whole snapshot transfer found in the log. */
export interface LoggedSnapshot {
  index: number;
  epoch: number;
  bytes: Uint8Array;
  /** The packet carrying its last chunk. */
  packet: number;
}

export interface DecodedLog {
  /** Log-channel frames seen (every type, both directions). */
  frames: number;
  appends: number;
  /** Entries carried, resends included. */
  entriesCarried: number;
  /** Intact entries in capture order (duplicates included). */
  entries: LoggedEntry[];
  snapshots: LoggedSnapshot[];
  /** Snapshot transfers that never completed (a chunk missing or corrupt). */
  incompleteSnapshots: Array<{ index: number; epoch: number; have: number; total: number }>;
  corrupt: CorruptRecord[];
}

function readU64(b: Uint8Array, at: number): number | undefined {
  if (at + 8 > b.length) return undefined;
  const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  return hi >= 0x200000 ? undefined : hi * 0x1_0000_0000 + lo;
}

/**
 * Entries of an append frame whose frame CRC failed, one by one: each entry has its own
 * CRC (log.ts), so the damage is found at the entry it hit and the others are kept.
 */
function salvageAppend(payload: Uint8Array, packet: number, log: DecodedLog): boolean {
  if (payload.length < 26 || payload[1] !== 1) return false;
  const count = (payload[20]! << 8) | payload[21]!;
  let pos = 22;
  const end = payload.length - 4;
  for (let i = 0; i < count && pos < end; i++) {
    const n = frameLength(payload, pos);
    if (n === undefined || n < 8 || pos + n > end) {
      log.corrupt.push({ packet, ...optIndex(readU64(payload, pos + 8)), reason: 'entry frame length runs past the append frame' });
      return true;
    }
    const frame = payload.subarray(pos, pos + n);
    const r = decodeEntry(frame);
    log.entriesCarried++;
    if (r.ok && r.bytes === frame.length) log.entries.push({ entry: r.entry, packet, bytes: frame.slice() });
    else log.corrupt.push({ packet, ...optIndex(readU64(frame, 8)), reason: r.ok ? 'log-bad-length' : r.reason });
    pos += n;
  }
  return true;
}

function optIndex(index: number | undefined): { index?: number } {
  return index === undefined ? {} : { index };
}

/** Decodes every log-channel frame: entries (CRC-checked), snapshot transfers, corrupt frames. */
export function decodeLog(frames: readonly LogFrame[]): DecodedLog {
  const log: DecodedLog = { frames: frames.length, appends: 0, entriesCarried: 0, entries: [], snapshots: [], incompleteSnapshots: [], corrupt: [] };
  const assembling = new Map<string, { index: number; epoch: number; total: number; chunks: Map<number, Uint8Array>; have: number; done: boolean }>();
  for (const f of frames) {
    const d = decodeChannel(f.payload);
    if (!d.ok) {
      if (d.reason === 'channel-bad-crc' && salvageAppend(f.payload, f.packet, log)) {
        log.appends++;
        const hit = log.corrupt.filter((c) => c.packet === f.packet).length;
        if (hit === 0) log.corrupt.push({ packet: f.packet, reason: 'channel-bad-crc (the entries in it are intact)' });
        continue;
      }
      log.corrupt.push({ packet: f.packet, ...optIndex(f.payload[1] === 1 ? readU64(f.payload, 22 + 8) : undefined), reason: d.reason });
      continue;
    }
    const m: ChannelMessage = d.message;
    if (m.type === 'append') {
      log.appends++;
      for (const frame of m.entries) {
        log.entriesCarried++;
        const r = decodeEntry(frame);
        if (r.ok && r.bytes === frame.length) log.entries.push({ entry: r.entry, packet: f.packet, bytes: frame });
        else log.corrupt.push({ packet: f.packet, ...optIndex(readU64(frame, 8)), reason: r.ok ? 'log-bad-length' : r.reason });
      }
    } else if (m.type === 'snapshot') {
      const key = `${m.index}/${m.epoch}/${m.total}`;
      let a = assembling.get(key);
      if (a === undefined) {
        a = { index: m.index, epoch: m.epoch, total: m.total, chunks: new Map(), have: 0, done: false };
        assembling.set(key, a);
      }
      if (a.done || a.chunks.has(m.offset)) continue;
      a.chunks.set(m.offset, m.chunk);
      a.have += m.chunk.length;
      if (a.have < a.total) continue;
      const bytes = new Uint8Array(a.total);
      for (const [offset, chunk] of a.chunks) bytes.set(chunk, offset);
      a.done = true;
      log.snapshots.push({ index: a.index, epoch: a.epoch, bytes, packet: f.packet });
    }
  }
  for (const a of assembling.values()) if (!a.done) log.incompleteSnapshots.push({ index: a.index, epoch: a.epoch, have: a.have, total: a.total });
  return log;
}
