/**
 * The checks of a run, written once for the simulator (src/sim/cluster.ts) and for runs of
 * real processes (src/lab: chaos, scenarios, the demo, the bench's failover trial), as pure
 * functions of plain observation data: who claimed which epoch, what each client stream
 * came to, which packets a replica put on the wire. Deterministic: no clock, no I/O.
 *
 * - splitBrainEpochs(): epochs two replicas claimed (went live in, announced, emitted client
 *   packets in). DESIGN.md, "Epochs": exactly one replica may win an epoch.
 * - streamCounts(), streamsIntact(), streamVerdict(), bulkUploadProblems(): every client
 *   stream intact, byte for byte, and with bulk every upload digested identically by the
 *   surviving server app.
 * - fencedEmissions(): a loser (a fenced old primary) emitted nothing after losing but
 *   what the new primary sent too (DESIGN.md, "The primary losing its backup").
 * - identicalReemitted(), compareReemitted(): re-emitted segments byte-identical to what
 *   the old primary sent (DESIGN.md, "Going live", 1).
 */
import { formatIpv4Addr } from '../wire/addr.js';
import { parseTcpPacket } from '../wire/packet.js';
import { seqDiff } from '../wire/seq.js';
import { TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';

// ---- split brain ----------------------------------------------------------------------------

/** Who claimed each epoch, by epoch, in the order of first claim. */
export type EpochClaims = Map<number, Set<string>>;

/** Adds `who` to the claimants of `epoch`. */
export function addClaim(claims: EpochClaims, epoch: number, who: string): void {
  let s = claims.get(epoch);
  if (s === undefined) claims.set(epoch, (s = new Set()));
  s.add(who);
}

/** The claims of each replica (its name, the epochs it claimed), by epoch. */
export function claimsByEpoch(byReplica: Iterable<readonly [who: string, epochs: Iterable<number>]>, claims: EpochClaims = new Map()): EpochClaims {
  for (const [who, epochs] of byReplica) for (const epoch of epochs) addClaim(claims, epoch, who);
  return claims;
}

/** Epochs claimed by two or more replicas (split brain), in the order of first claim. */
export function splitBrainEpochs(claims: ReadonlyMap<number, ReadonlySet<string>>): number[] {
  return [...claims].filter(([, s]) => s.size > 1).map(([e]) => e);
}

// ---- client streams -------------------------------------------------------------------------

export interface StreamCounts {
  intact: number;
  broken: number;
}

/** Intact and broken streams of a load, from each connection's verdict. */
export function streamCounts(conns: readonly { intact: boolean }[]): StreamCounts {
  const intact = conns.filter((c) => c.intact).length;
  return { intact, broken: conns.length - intact };
}

/** Every stream arrived exactly (and there was at least one). */
export function streamsIntact(s: StreamCounts): boolean {
  return s.broken === 0 && s.intact > 0;
}

/** bulk: one upload as the client saw it, and the server app's digest of it (undefined: none). */
export interface UploadCheck {
  /** The connection, as the report names it. */
  conn: number | string;
  bytes: number;
  sha256: string | null;
  digest: { received: number; sha256: string } | undefined;
}

/** bulk: the uploads the server app did not digest identically, one line each. */
export function bulkUploadProblems(uploads: readonly UploadCheck[]): string[] {
  const problems: string[] = [];
  for (const u of uploads) {
    const got = u.digest;
    if (got === undefined || got.received !== u.bytes || got.sha256 !== u.sha256) {
      problems.push(`bulk: connection ${u.conn} uploaded ${u.bytes} bytes (sha256 ${u.sha256 ?? '?'}) but the server app has ${got === undefined ? 'no digest' : `${got.received} bytes (sha256 ${got.sha256})`}`);
    }
  }
  return problems;
}

/** What a load client reported at the end. */
export interface ClientStreams {
  streams: StreamCounts;
  resets: number;
  problems: readonly string[];
}

/**
 * Broken streams from the load client's result (it checked every byte it read, and counts
 * resets) and the upload problems (bulkUploadProblems(), empty unless bulk): an upload the
 * server got wrong breaks a stream the client saw intact. No result breaks every stream.
 */
export function streamVerdict(result: ClientStreams | undefined, uploadProblems: readonly string[], connections: number): { streams: StreamCounts; resets: number; problems: string[] } {
  if (result === undefined) return { streams: { intact: 0, broken: connections }, resets: 0, problems: ['the client gave no result'] };
  const streams = { ...result.streams };
  const problems = result.problems.map((p) => `client: ${p}`);
  if (result.resets > 0) problems.push(`${result.resets} connection(s) reset`);
  problems.push(...uploadProblems);
  const more = Math.min(uploadProblems.length, streams.intact);
  streams.intact -= more;
  streams.broken += more;
  return { streams, resets: result.resets, problems };
}

// ---- re-emitted segments ----------------------------------------------------------------------

/** A packet's bytes as a string key (latin1: one char per byte), for sets of packets. */
export function packetKey(p: Uint8Array): string {
  let s = '';
  for (let i = 0; i < p.length; i += 8192) s += String.fromCharCode(...p.subarray(i, i + 8192));
  return s;
}

/**
 * Identity of a packet without its bytes: IPv4 ID, TCP ports and sequence number. Two
 * packets with the same identity are "the same segment"; byte-identical or not is the
 * question. `linkHeaderBytes`: where the IPv4 header starts (14 in an Ethernet II frame); a
 * frame that holds no IPv4 packet (an ARP) is its own identity.
 */
function segmentKey(p: Uint8Array, linkHeaderBytes: number): string {
  const ip = p.subarray(linkHeaderBytes);
  if (ip.length < 20 || ip[0]! >> 4 !== 4) return packetKey(p);
  const ihl = (ip[0]! & 0x0f) * 4;
  return packetKey(Uint8Array.from([ip[4]!, ip[5]!, ...ip.subarray(ihl, ihl + 8)]));
}

/** How many of the re-emitted packets are byte-identical to one the old primary sent (`sent`: packetKey()s). */
export function identicalReemitted(sent: ReadonlySet<string>, reemitted: readonly Uint8Array[]): number {
  return reemitted.filter((p) => sent.has(packetKey(p))).length;
}

/**
 * Re-emitted segments of the survivor; how many of them the old primary had put on the wire
 * (same IP ID, ports and sequence number: `sentByPrimary`), and how many of those are
 * byte-identical to the primary's (`identicalToPrimary`; equal when all is well). A
 * re-emitted segment the primary never sent (it was still held by the output rule) has
 * nothing to compare with.
 */
export function compareReemitted(sent: ReadonlySet<string>, reemitted: readonly Uint8Array[], linkHeaderBytes = 0): { segments: number; sentByPrimary: number; identicalToPrimary: number } {
  const keys = new Set([...sent].map((k) => segmentKey(Uint8Array.from(k, (c) => c.charCodeAt(0)), linkHeaderBytes)));
  return {
    segments: reemitted.length,
    sentByPrimary: reemitted.filter((p) => keys.has(segmentKey(p, linkHeaderBytes))).length,
    identicalToPrimary: identicalReemitted(sent, reemitted),
  };
}

// ---- fencing: what a loser emitted after losing ------------------------------------------------

interface Segment {
  conn: string;
  seq: number;
  flags: number;
  payload: Uint8Array;
  /** Sequence space it occupies: SYN + payload + FIN. */
  length: number;
}

function toSegment(packet: Uint8Array): Segment | undefined {
  const p = parseTcpPacket(packet, false);
  if (!p.ok) return undefined;
  const s = p.segment;
  const conn = `${formatIpv4Addr(p.ip.src)}:${s.srcPort}>${formatIpv4Addr(p.ip.dst)}:${s.dstPort}`;
  const length = s.payload.length + (s.flags & TCP_SYN ? 1 : 0) + (s.flags & TCP_FIN ? 1 : 0);
  return { conn, seq: s.seq, flags: s.flags, payload: s.payload, length };
}

/** One byte of sequence space: a payload byte (0..255), SYN (-1) or FIN (-2). */
function seqByte(s: Segment, offset: number): number {
  const syn = s.flags & TCP_SYN ? 1 : 0;
  if (offset < syn) return -1;
  if (offset - syn < s.payload.length) return s.payload[offset - syn]!;
  return -2;
}

export interface FencedEmissionReport {
  /** TCP segments examined (after de-duplicating identical packets). */
  segments: number;
  /** ...that carried no data and no SYN/FIN/RST. */
  noData: number;
  /** ...whose every byte of sequence space the new primary also sent, identical. */
  identical: number;
  /** What is wrong with the others, one line each. */
  problems: string[];
}

/**
 * `emitted`: packets the fenced (old) primary put on the wire after it was resumed;
 * `reference`: every packet the new primary sent. Non-TCP packets count as problems.
 */
export function fencedEmissions(emitted: readonly Uint8Array[], reference: readonly Uint8Array[]): FencedEmissionReport {
  const report: FencedEmissionReport = { segments: 0, noData: 0, identical: 0, problems: [] };
  const byConn = new Map<string, Segment[]>();
  for (const p of reference) {
    const s = toSegment(p);
    if (s === undefined) continue;
    let list = byConn.get(s.conn);
    if (list === undefined) byConn.set(s.conn, (list = []));
    list.push(s);
  }
  const seen = new Set<string>();
  for (const p of emitted) {
    const key = packetKey(p);
    if (seen.has(key)) continue;
    seen.add(key);
    report.segments++;
    const s = toSegment(p);
    if (s === undefined) {
      report.problems.push(`a ${p.length}-byte packet that is not TCP/IPv4`);
      continue;
    }
    const refs = byConn.get(s.conn) ?? [];
    const where = `${s.conn} seq ${s.seq >>> 0}`;
    if (s.flags & TCP_RST) {
      if (!refs.some((r) => r.flags & TCP_RST && r.seq === s.seq)) report.problems.push(`${where}: a RST the new primary never sent`);
      else report.identical++;
      continue;
    }
    if (s.length === 0) {
      report.noData++;
      continue;
    }
    // Every byte of its sequence space, against the new primary's segments that cover it.
    const covered = new Uint8Array(s.length);
    let differs: string | undefined;
    for (const r of refs) {
      const start = seqDiff(r.seq, s.seq);
      for (let i = Math.max(0, start); i < Math.min(s.length, start + r.length); i++) {
        const mine = seqByte(s, i);
        const theirs = seqByte(r, i - start);
        if (mine === theirs) covered[i] = 1;
        else differs ??= `${where}: the byte at +${i} is ${mine} but the new primary sent ${theirs}`;
      }
    }
    const missing = covered.indexOf(0);
    if (differs !== undefined) report.problems.push(differs);
    else if (missing >= 0) report.problems.push(`${where}: ${covered.length - covered.reduce((n, c) => n + c, 0)} of its ${s.length} bytes of sequence space (from +${missing}) were never sent by the new primary`);
    else report.identical++;
  }
  return report;
}
