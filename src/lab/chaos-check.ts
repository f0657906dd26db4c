/**
 * The verdicts of a `ftcp chaos` trial, as pure functions of what the trial
 * recorded: captured packets and the event lines of the processes. Kept apart from the
 * runner (chaos-trial.ts) so a unit test can feed them doctored data.
 *
 * - fencedEmissions(): what a paused primary put on the wire after its SIGCONT, segment by
 *   segment, against what the new primary sent. A segment is acceptable when it carries no
 *   data and no SYN, FIN or RST (an ACK or a window update tells the client nothing new),
 *   or when every byte of its sequence space (payload, and SYN/FIN) is one the new primary
 *   also sent at that sequence number on that connection, with the same value. Anything
 *   else is a non-identical emission: bytes that differ, bytes the new primary never sent,
 *   a SYN, FIN or RST it never sent.
 * - epochConflicts(): epochs in which two replicas claimed the service (their `announce`
 *   lines) or emitted client packets (their wire captures): split brain.
 * - arbiterDoubleGrants(): epochs the arbiter granted twice, or answered with two winners.
 * - streamVerdict(): the client's byte-for-byte result (every byte it read), and with bulk
 *   the server app's digest of every byte uploaded, as broken streams.
 */
import type { ChildEvent } from './children.js';
import { checkBulkUploads } from './live-cluster.js';
import type { LoadClientResult } from './load-client.js';
import { formatIpv4Addr } from '../wire/addr.js';
import { parseTcpPacket } from '../wire/packet.js';
import { seqDiff } from '../wire/seq.js';
import { TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';

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
    const key = Buffer.from(p).toString('latin1');
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

/** Epochs in which two or more replicas announced the service address (`announce` lines), or emitted client packets. */
export function epochConflicts(announces: ReadonlyMap<string, readonly ChildEvent[]>, emittedEpochs: ReadonlyMap<string, ReadonlySet<number>>): number[] {
  const owners = new Map<number, Set<string>>();
  const add = (epoch: number, who: string) => {
    let s = owners.get(epoch);
    if (s === undefined) owners.set(epoch, (s = new Set()));
    s.add(who);
  };
  for (const [who, events] of announces) for (const e of events) if (e.event === 'announce' && typeof e['epoch'] === 'number') add(e['epoch'], who);
  for (const [who, epochs] of emittedEpochs) for (const epoch of epochs) add(epoch, who);
  return [...owners].filter(([, s]) => s.size > 1).map(([e]) => e).sort((x, y) => x - y);
}

/** From the arbiter's event lines: epochs granted more than once, or answered with a winner other than the one granted. */
export function arbiterDoubleGrants(events: readonly ChildEvent[]): number[] {
  const winners = new Map<string, Set<string>>();
  const grants = new Map<string, number>();
  const bad = new Set<number>();
  for (const e of events) {
    if (e.event !== 'granted' && e.event !== 'answered') continue;
    const epoch = e['epoch'] as number;
    const k = `${String(e['service'])}#${epoch}`;
    let w = winners.get(k);
    if (w === undefined) winners.set(k, (w = new Set()));
    w.add(String(e['winner']));
    if (e.event === 'granted') grants.set(k, (grants.get(k) ?? 0) + 1);
    if (w.size > 1 || (grants.get(k) ?? 0) > 1) bad.add(epoch);
  }
  return [...bad].sort((x, y) => x - y);
}

/**
 * Broken streams from the load client's result (it checked every byte it read, and counts
 * resets) and, when `uploads` (bulk), the surviving replica's `exit` line, whose app
 * digested every byte uploaded. No result at all breaks every stream.
 */
export function streamVerdict(result: Pick<LoadClientResult, 'streams' | 'resets' | 'problems' | 'uploads'> | undefined, survivorExit: ChildEvent | undefined, uploads: boolean, connections: number): { streams: { intact: number; broken: number }; resets: number; problems: string[] } {
  if (result === undefined) return { streams: { intact: 0, broken: connections }, resets: 0, problems: ['the client gave no result'] };
  const streams = { ...result.streams };
  const problems = result.problems.map((p) => `client: ${p}`);
  if (result.resets > 0) problems.push(`${result.resets} connection(s) reset`);
  if (uploads) {
    const bad = checkBulkUploads(result as unknown as ChildEvent, survivorExit);
    problems.push(...bad);
    // An upload the server got wrong breaks a stream the client saw intact.
    const more = Math.min(bad.length, streams.intact);
    streams.intact -= more;
    streams.broken += more;
  }
  return { streams, resets: result.resets, problems };
}
