/**
 * The flight recorder (`ftcp replay`): a recorded log replayed offline through a
 * fresh RSM, entry by entry, as a backup would apply it.
 *
 * For every entry it
 *   - applies it (Rsm.apply) and verifies the state the primary attached (Rsm.verify:
 *     SND.UNA, SND.NXT, RCV.NXT and the windows of each touched connection, the digest);
 *   - compares its outputs O(i) with the packets the capture says the replica released
 *     for entry i ("O(i), epoch e" comments), byte for byte;
 * and it stops after entry `at` to show the state of the connections there.
 *
 * Where the replay starts. A log that starts at entry 1 starts from the fresh RSM every
 * replica created (Rsm.create with the configuration the capture carries, replay-input.ts).
 * A new backup joins from a snapshot at index k and then gets entries k + 1 ... in a
 * higher epoch; the entries a lone primary applied before k were never sent to anyone.
 * So the log is a list of segments: the entries from the configuration, then, for each
 * complete snapshot transfer (epoch E, index k), the entries of epoch >= E after k,
 * replayed from that snapshot. An entry belongs to the last segment whose starting epoch
 * is at most its own, and a released packet, by its epoch tag, likewise: a replica that
 * lost the test-and-set of epoch e never runs in an epoch above e, so epochs never mix
 * two histories.
 *
 * Corrupt frames. Each entry has its own CRC: a damaged one is skipped and counted, and
 * an intact copy sent again later (a resend) takes its place. Without one, the segment
 * stops before it: entries cannot be applied across a gap (docs/decisions.md).
 *
 * Pure: no files, no clock. The caller reads the captures (src/cli/replay.ts).
 */
import { formatIpv4Addr } from '../wire/addr.js';
import type { SocketInfo } from '../tcp/types.js';
import type { LogEntry } from './log.js';
import type { CapturedOutput, CorruptRecord, DecodedLog, LoggedEntry, ReplayBase } from './replay-input.js';
import { Rsm, RsmError, type RsmStackFactory, type StateMismatch } from './rsm.js';

export type ReplayErrorCode = 'REPLAY_NO_LOG' | 'REPLAY_NO_START' | 'REPLAY_AT_OUT_OF_RANGE';

/** The log cannot be replayed as asked (no entries, nothing to start from, --at outside it). */
export class ReplayError extends Error {
  constructor(
    readonly code: ReplayErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReplayError';
  }
}

/** One stretch of consecutive entries replayed from one starting point. */
export interface ReplaySegment {
  from: 'config' | 'snapshot';
  /** Index the segment starts after (0, or the snapshot's k). */
  baseIndex: number;
  /** Lowest epoch of its entries (0 for the configuration's). */
  epoch: number;
  /** Last index replayable in order from the base. */
  lastIndex: number;
  /** Why it ends before its highest logged entry, if it does. */
  gap?: { index: number; reason: string };
  /** Snapshot segments: the packet carrying the snapshot's last chunk. */
  packet?: number;
}

/** A connection as `ftcp replay` shows it. */
export interface ConnectionState {
  id: number;
  local: string;
  remote: string;
  state: string;
  sndUna: number;
  sndNxt: number;
  rcvNxt: number;
  sndWnd: number;
  rcvWnd: number;
  /** Bytes written by the app and not acknowledged yet (send buffer). */
  unacked: number;
  /** Bytes received and not read by the app yet (receive buffer). */
  readable: number;
  /** Entries at which the replay first and last saw the connection held by the RSM. */
  firstIndex: number;
}

export interface StateFault {
  index: number;
  connection?: { id: number; remote: string };
  field: string;
  primary: number | string;
  replay: number | string;
}

export interface OutputMismatch {
  index: number;
  /** The capture's packet number (the first of the entry's packets when a count differs). */
  packet?: number;
  /** Position of the packet within O(i), from 0. */
  position: number;
  connection?: string;
  /** First differing byte; undefined when one side has no packet there. */
  offset?: number;
  where?: string;
  captured?: number;
  replayed?: number;
  /** Bytes that differ in that packet (the shorter length compared); the last of them, and where. */
  differing?: number;
  lastOffset?: number;
  lastWhere?: string;
  capturedPackets: number;
  replayedPackets: number;
}

export interface ReplayResult {
  segments: ReplaySegment[];
  /** Entry the replay stopped after (the `at` asked for, or the last one replayed). */
  index: number;
  /** The segment the replay stopped in. */
  segment: number;
  /** Entries applied in all. */
  applied: number;
  /** Distinct entries in the log; copies of one entry sent again. */
  logged: number;
  duplicates: number;
  corrupt: CorruptRecord[];
  /** Logged entries that cannot be replayed (beyond a gap, no start for them). */
  unreplayable: number;
  notes: string[];
  checks: { verified: number; failed: number; first?: StateFault };
  outputs: {
    /** Whether a capture of released packets was given. */
    checked: boolean;
    matchedPackets: number;
    mismatchedEntries: number;
    first?: OutputMismatch;
    /** Replayed packets of entries the capture holds nothing for (held, never released: the replica died). */
    unreleasedPackets: number;
    /** Captured packets of entries the replay did not reach (a lone primary's, not logged). */
    notReplayedPackets: number;
  };
  connections: ConnectionState[];
  /** Connections the RSM held at some point before `index`, by id, and where they went. */
  history: Map<number, { remote: string; firstIndex: number; lastIndex?: number }>;
  /** The RSM at `index`, for callers that want more than the summary. */
  rsm: Rsm;
}

export interface ReplayInput {
  log: DecodedLog;
  /** The configuration to start a log at entry 1 from; undefined when the capture has none. */
  base?: ReplayBase;
  factory: RsmStackFactory;
  /** Stop after this entry (default: the end). */
  at?: number;
  /** Released packets to compare with (default: no comparison). */
  outputs?: readonly CapturedOutput[];
}

const FIELDS_EQUAL = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Splits the log into segments and picks one copy of each entry for each. */
function planSegments(input: ReplayInput, notes: string[]): { segments: ReplaySegment[]; entries: Array<Map<number, LoggedEntry>>; duplicates: number; unreplayable: number } {
  const { log } = input;
  const snapshots = [...log.snapshots].sort((x, y) => x.epoch - y.epoch || x.index - y.index);
  const starts: ReplaySegment[] = [];
  if (input.base !== undefined) starts.push({ from: 'config', baseIndex: 0, epoch: 0, lastIndex: 0 });
  for (const s of snapshots) {
    if (starts.some((x) => x.from === 'snapshot' && x.epoch === s.epoch)) continue;
    starts.push({ from: 'snapshot', baseIndex: s.index, epoch: s.epoch, lastIndex: s.index, packet: s.packet });
  }
  const entries = starts.map(() => new Map<number, LoggedEntry>());
  let duplicates = 0;
  let orphans = 0;
  for (const e of log.entries) {
    let seg = -1;
    for (let i = 0; i < starts.length; i++) if (starts[i]!.epoch <= e.entry.epoch) seg = i;
    if (seg < 0 || e.entry.index <= starts[seg]!.baseIndex) {
      orphans++;
      continue;
    }
    const map = entries[seg]!;
    const seen = map.get(e.entry.index);
    if (seen === undefined) map.set(e.entry.index, e);
    else {
      duplicates++;
      if (!FIELDS_EQUAL(seen.bytes, e.bytes)) notes.push(`entry ${e.entry.index}: packet ${e.packet} carries a copy that differs from the one in packet ${seen.packet}; the first is replayed`);
    }
  }
  let unreplayable = orphans;
  if (orphans > 0) {
    notes.push(
      input.base === undefined && log.snapshots.length > 0
        ? `${orphans} logged entries precede the first snapshot and cannot be replayed: the capture carries no RSM config (give one with --rsm-config)`
        : `${orphans} logged entries have no starting point (no RSM config or snapshot for their epoch)`,
    );
  }
  for (let i = 0; i < starts.length; i++) {
    const seg = starts[i]!;
    const map = entries[i]!;
    let last = seg.baseIndex;
    while (map.has(last + 1)) last++;
    seg.lastIndex = last;
    const beyond = [...map.keys()].filter((k) => k > last);
    const missing = last + 1;
    const bad = log.corrupt.find((c) => c.index === missing && !c.recovered);
    if (beyond.length > 0 || bad !== undefined) {
      seg.gap = { index: missing, reason: bad !== undefined ? `entry ${missing} is corrupt in packet ${bad.packet} (${bad.reason}) and no intact copy follows` : `entry ${missing} is not in the log` };
      unreplayable += beyond.length;
      for (const k of beyond) map.delete(k);
    }
  }
  return { segments: starts, entries, duplicates, unreplayable };
}

/** Where in an IPv4/TCP packet byte `offset` lies. */
export function describeOffset(p: Uint8Array, offset: number): string {
  const ihl = p.length > 0 ? (p[0]! & 0x0f) * 4 : 20;
  if (offset < ihl) return `IPv4 header byte ${offset}`;
  const tcpHeader = p.length > ihl + 12 ? (p[ihl + 12]! >> 4) * 4 : 20;
  if (offset < ihl + tcpHeader) return `TCP header byte ${offset - ihl}`;
  return `TCP payload byte ${offset - ihl - tcpHeader}`;
}

/** "192.0.2.1:40001 > 192.0.2.10:7070" of an IPv4/TCP packet, when it is one. */
export function packetFlow(p: Uint8Array): string | undefined {
  if (p.length < 24 || p[0]! >> 4 !== 4) return undefined;
  const ihl = (p[0]! & 0x0f) * 4;
  if (p.length < ihl + 4) return undefined;
  const u32 = (o: number) => ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
  return `${formatIpv4Addr(u32(12))}:${(p[ihl]! << 8) | p[ihl + 1]!} > ${formatIpv4Addr(u32(16))}:${(p[ihl + 2]! << 8) | p[ihl + 3]!}`;
}

function compareOutputs(index: number, replayed: readonly Uint8Array[], captured: readonly CapturedOutput[]): OutputMismatch | undefined {
  const n = Math.max(replayed.length, captured.length);
  for (let k = 0; k < n; k++) {
    const r = replayed[k];
    const c = captured[k];
    const base = { index, position: k, capturedPackets: captured.length, replayedPackets: replayed.length };
    const packet = c?.packet ?? captured[0]?.packet;
    const withPacket = packet === undefined ? base : { ...base, packet };
    const flow = packetFlow((r ?? c?.data)!);
    const mm: OutputMismatch = flow === undefined ? withPacket : { ...withPacket, connection: flow };
    if (r === undefined || c === undefined) return mm;
    if (FIELDS_EQUAL(r, c.data)) continue;
    let offset = 0;
    while (offset < r.length && offset < c.data.length && r[offset] === c.data[offset]) offset++;
    let differing = 0;
    let lastOffset = offset;
    for (let b = offset; b < Math.min(r.length, c.data.length); b++) {
      if (r[b] === c.data[b]) continue;
      differing++;
      lastOffset = b;
    }
    const out: OutputMismatch = { ...mm, offset, where: describeOffset(c.data, offset), differing, lastOffset, lastWhere: describeOffset(c.data, lastOffset) };
    if (offset < c.data.length) out.captured = c.data[offset]!;
    if (offset < r.length) out.replayed = r[offset]!;
    return out;
  }
  return undefined;
}

/** A connection's SocketInfo as `ftcp replay` shows it. */
export function connectionState(info: SocketInfo, firstIndex: number): ConnectionState {
  return {
    id: info.id,
    local: `${formatIpv4Addr(info.localAddress)}:${info.localPort}`,
    remote: `${formatIpv4Addr(info.remoteAddress)}:${info.remotePort}`,
    state: info.state,
    sndUna: info.sndUna >>> 0,
    sndNxt: info.sndNxt >>> 0,
    rcvNxt: info.rcvNxt >>> 0,
    sndWnd: info.sndWnd,
    rcvWnd: info.rcvWnd,
    unacked: info.unacked,
    readable: info.readable,
    firstIndex,
  };
}

/** The connections an RSM holds, in accept order. */
export function connectionStates(rsm: Rsm, firstSeen?: ReadonlyMap<number, { firstIndex: number }>): ConnectionState[] {
  const out: ConnectionState[] = [];
  for (const id of rsm.connections()) {
    let info: SocketInfo;
    try {
      info = rsm.info(id);
    } catch {
      continue;
    }
    if (info.kind === 'connection') out.push(connectionState(info, firstSeen?.get(id)?.firstIndex ?? rsm.index));
  }
  return out;
}

/** Replays the log. Throws ReplayError when it cannot start or `at` lies outside it. */
export function replayLog(input: ReplayInput): ReplayResult {
  const notes: string[] = [];
  const { log } = input;
  // A corrupt entry whose intact copy was sent again (a resend) costs nothing.
  const intactIndex = new Set(log.entries.map((e) => e.entry.index));
  for (const c of log.corrupt) if (c.index !== undefined && intactIndex.has(c.index)) c.recovered = true;
  if (log.entries.length === 0 && log.snapshots.length === 0) {
    throw new ReplayError('REPLAY_NO_LOG', log.corrupt.length > 0 ? `no intact log entry: ${log.corrupt.length} corrupt (first in packet ${log.corrupt[0]!.packet}: ${log.corrupt[0]!.reason})` : 'no log entries in the capture');
  }
  const plan = planSegments(input, notes);
  const { segments } = plan;
  if (segments.length === 0) {
    throw new ReplayError('REPLAY_NO_START', 'the capture carries no RSM config and no snapshot: nothing to start the replay from (give the config with --rsm-config)');
  }
  for (const s of log.incompleteSnapshots) notes.push(`a snapshot transfer at index ${s.index} (epoch ${s.epoch}) is incomplete: ${s.have} of ${s.total} bytes`);
  // Which segment `at` is in: the first that reaches it.
  let stopSeg = segments.length - 1;
  let stopAt = segments[stopSeg]!.lastIndex;
  if (input.at !== undefined) {
    const at = input.at;
    const found = segments.findIndex((s) => s.baseIndex <= at && at <= s.lastIndex);
    if (found < 0) {
      const ranges = segments.map((s) => `${s.from === 'config' ? 'from the start' : `from the snapshot at ${s.baseIndex}`}: ${s.baseIndex === s.lastIndex ? `${s.baseIndex} only` : `${s.baseIndex + 1}..${s.lastIndex}`}`).join('; ');
      throw new ReplayError('REPLAY_AT_OUT_OF_RANGE', `--at ${at} is outside the replayable log (${ranges})`);
    }
    stopSeg = found;
    stopAt = at;
  }

  // Captured outputs by segment (their epoch) and index.
  const captured = segments.map(() => new Map<number, CapturedOutput[]>());
  for (const o of input.outputs ?? []) {
    let seg = -1;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.epoch <= o.epoch) seg = i;
    if (seg < 0) seg = 0;
    const m = captured[seg]!;
    const list = m.get(o.index) ?? [];
    list.push(o);
    m.set(o.index, list);
  }

  const result: Omit<ReplayResult, 'rsm' | 'connections'> = {
    segments,
    index: 0,
    segment: 0,
    applied: 0,
    logged: plan.entries.reduce((n, m) => n + m.size, 0) + plan.unreplayable,
    duplicates: plan.duplicates,
    corrupt: log.corrupt,
    unreplayable: plan.unreplayable,
    notes,
    checks: { verified: 0, failed: 0 },
    outputs: { checked: input.outputs !== undefined, matchedPackets: 0, mismatchedEntries: 0, unreleasedPackets: 0, notReplayedPackets: 0 },
    history: new Map(),
  };
  let rsm: Rsm | undefined;
  for (let s = 0; s <= stopSeg; s++) {
    const seg = segments[s]!;
    const last = s === stopSeg ? stopAt : seg.lastIndex;
    rsm = seg.from === 'config' ? Rsm.create(input.base!.rsm, input.factory, input.base!.startUs) : Rsm.restore(log.snapshots.find((x) => x.epoch === seg.epoch && x.index === seg.baseIndex)!.bytes, input.factory);
    if (rsm.index !== seg.baseIndex) throw new RsmError(`the snapshot of packet ${seg.packet} says index ${rsm.index}, its transfer says ${seg.baseIndex}`);
    result.history = new Map();
    const track = (index: number) => {
      const held = new Set(rsm!.connections());
      for (const id of held) {
        if (result.history.has(id)) continue;
        result.history.set(id, { remote: remoteOf(rsm!, id) ?? '?', firstIndex: index });
      }
      for (const [id, h] of result.history) if (h.lastIndex === undefined && !held.has(id)) h.lastIndex = index;
    };
    track(seg.baseIndex);
    const map = plan.entries[s]!;
    const outs = captured[s]!;
    for (let i = seg.baseIndex + 1; i <= last; i++) {
      const logged = map.get(i)!;
      applyOne(rsm, logged.entry, outs.get(i), result);
      track(i);
    }
    if (input.outputs !== undefined) {
      const reached = s === stopSeg ? stopAt : seg.lastIndex;
      for (const [i, list] of outs) if (i > reached || i <= seg.baseIndex) result.outputs.notReplayedPackets += list.length;
    }
    result.index = last;
    result.segment = s;
  }
  if (input.outputs !== undefined) for (let s = stopSeg + 1; s < segments.length; s++) for (const list of captured[s]!.values()) result.outputs.notReplayedPackets += list.length;
  return { ...result, rsm: rsm!, connections: connectionStates(rsm!, result.history) };
}

function applyOne(rsm: Rsm, entry: LogEntry, captured: CapturedOutput[] | undefined, result: Omit<ReplayResult, 'rsm' | 'connections'>): void {
  let mismatch: StateMismatch | undefined;
  let packets: Uint8Array[] = [];
  try {
    const applied = rsm.apply(entry);
    packets = applied.packets;
    mismatch = rsm.verify(entry, applied);
  } catch (error) {
    if (!(error instanceof RsmError)) throw error;
    mismatch = { index: entry.index, field: 'apply', primary: 'applied', backup: error.message };
  }
  result.applied++;
  if (mismatch === undefined) result.checks.verified++;
  else {
    result.checks.failed++;
    if (result.checks.first === undefined) {
      const f: StateFault = { index: mismatch.index, field: mismatch.field, primary: mismatch.primary, replay: mismatch.backup };
      if (mismatch.socket !== undefined) {
        f.connection = { id: mismatch.socket, remote: remoteOf(rsm, mismatch.socket) ?? result.history.get(mismatch.socket)?.remote ?? '?' };
      }
      result.checks.first = f;
    }
  }
  if (!result.outputs.checked) return;
  if (captured === undefined || captured.length === 0) {
    result.outputs.unreleasedPackets += packets.length;
    return;
  }
  const mm = compareOutputs(entry.index, packets, captured);
  if (mm === undefined) result.outputs.matchedPackets += packets.length;
  else {
    result.outputs.mismatchedEntries++;
    result.outputs.first ??= mm;
    for (let k = 0; k < Math.min(packets.length, captured.length) && FIELDS_EQUAL(packets[k]!, captured[k]!.data); k++) result.outputs.matchedPackets++;
  }
}

function remoteOf(rsm: Rsm, id: number): string | undefined {
  try {
    const i = rsm.info(id);
    return `${formatIpv4Addr(i.remoteAddress)}:${i.remotePort}`;
  } catch {
    return undefined;
  }
}

/** One line per connection: 4-tuple, RFC state, sequence state, windows, buffered bytes. */
export function formatConnection(c: ConnectionState): string {
  return (
    `#${c.id} ${c.remote} > ${c.local} ${c.state} snd.una=${c.sndUna} snd.nxt=${c.sndNxt} rcv.nxt=${c.rcvNxt} ` +
    `snd.wnd=${c.sndWnd} rcv.wnd=${c.rcvWnd} unacked=${c.unacked} unread=${c.readable}`
  );
}
