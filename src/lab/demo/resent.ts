/**
 * What the client did with each segment the survivor re-sent at go-live, read from the
 * captures: the survivor's (which segments were re-sent), the killed primary's (had it sent
 * the same bytes?) and the switch's view of the clients (the re-sent copy arriving, and the
 * client's next segment on that connection: its answer).
 *
 * A data segment the client already had is not acceptable (RFC 9293 §3.10.7.4: its data lies
 * below RCV.NXT); the client drops it and acknowledges at once, with the same ACK as before
 * (a duplicate ACK), or with a D-SACK block naming the dropped bytes (RFC 2883 §4: a first
 * SACK block at or below the cumulative ACK).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readPcap } from '../../pcap/classic.js';
import { LINKTYPE_ETHERNET } from '../../pcap/pcapng.js';
import { readPcapng } from '../../pcap/reader.js';
import { ETHERNET_HEADER_BYTES } from '../../wire/ethernet.js';
import { parseCaptureTag } from '../../replica/capture-tags.js';
import { packetKey } from '../../replica/run-checks.js';
import { formatIpv4Addr } from '../../wire/addr.js';
import { parseTcpPacket } from '../../wire/packet.js';
import { seqDiff } from '../../wire/seq.js';
import { TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';

/** How the client answered a re-sent segment. */
export type ClientAnswer =
  /** the same cumulative ACK as before: the segment was dropped as a duplicate */
  | 'duplicate-ack'
  /** a D-SACK block for it: dropped as a duplicate, and said so */
  | 'd-sack'
  /** the ACK moved past it: the client did not have it and took it */
  | 'accepted'
  /** a pure ACK at RCV.NXT: acceptable, nothing in it to drop or to answer */
  | 'no-answer-due'
  /** the re-sent copy never showed in the client capture, or nothing came back after it */
  | 'unseen';

export interface ResentSegment {
  /** "file#frame" of the re-sent copy in the survivor's capture. */
  ref: string;
  /** The client end, address:port. */
  client: string;
  seq: number;
  len: number;
  /** SYN and FIN, when set ('' for neither). */
  flags: string;
  /** The old primary had put a segment with the same IP ID, ports and sequence number on the wire. */
  sentByPrimary: boolean;
  /** ... with exactly these bytes. */
  identical: boolean;
  answer: ClientAnswer;
  /** "file#frame" of the answer in the client capture (client.pcapng, bridge.pcap), when there is one. */
  answerRef: string | null;
  /** The client's ACK in its answer. */
  answerAck: number | null;
}

interface Captured {
  frame: number;
  /** The IPv4 packet (an Ethernet frame's header taken off). */
  data: Uint8Array;
  comment: string;
}

const ETHERTYPE_IPV4_HI = 0x08;

/**
 * Every IPv4 packet of a capture with its frame number (1-based over all frames, as tshark
 * counts): pcapng (the replicas', the switch's, the simulator's) or classic pcap (tcpdump on
 * the LAN's bridge); raw IPv4 or Ethernet II frames (a replica behind a TAP device, the bridge).
 */
function readCapture(path: string): Captured[] {
  if (!existsSync(path)) return [];
  const bytes = new Uint8Array(readFileSync(path));
  const magic = bytes.length >= 4 ? ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0 : 0;
  let frames: Array<{ data: Uint8Array; ethernet: boolean; comment: string }>;
  if (magic === 0x0a0d0d0a) {
    const r = readPcapng(bytes);
    frames = r.packets.map((p) => ({ data: p.data, ethernet: r.interfaces.find((f) => f.section === p.section && f.interfaceId === p.interfaceId)?.linkType === LINKTYPE_ETHERNET, comment: p.comments.join('; ') }));
  } else {
    const r = readPcap(bytes);
    frames = r.packets.map((data) => ({ data, ethernet: r.linkType === LINKTYPE_ETHERNET, comment: '' }));
  }
  const out: Captured[] = [];
  frames.forEach((f, i) => {
    if (!f.ethernet) out.push({ frame: i + 1, data: f.data, comment: f.comment });
    else if (f.data.length > ETHERNET_HEADER_BYTES && f.data[12] === ETHERTYPE_IPV4_HI && f.data[13] === 0x00) out.push({ frame: i + 1, data: f.data.subarray(ETHERNET_HEADER_BYTES), comment: f.comment });
  });
  return out;
}

interface Seg {
  /** client address:port, the connection's key. */
  client: string;
  fromClient: boolean;
  seq: number;
  ack: number;
  len: number;
  flags: string;
  /** Sequence space it occupies: SYN + payload + FIN. */
  space: number;
  pure: boolean;
  dsack: boolean;
}

function segOf(data: Uint8Array, service: string): Seg | undefined {
  const r = parseTcpPacket(data, false);
  if (!r.ok) return undefined;
  const s = r.segment;
  const src = formatIpv4Addr(r.ip.src);
  const fromClient = src !== service;
  const client = fromClient ? `${src}:${s.srcPort}` : `${formatIpv4Addr(r.ip.dst)}:${s.dstPort}`;
  const sack = s.options.find((o) => o.kind === 'sack');
  const dsack = sack !== undefined && sack.kind === 'sack' && sack.blocks.length > 0 && seqDiff(sack.blocks[0]!.left, s.ack) < 0;
  const pure = s.payload.length === 0 && (s.flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0;
  const flags = [s.flags & TCP_SYN ? 'SYN' : '', s.flags & TCP_FIN ? 'FIN' : ''].filter(Boolean).join('+');
  const space = s.payload.length + (s.flags & TCP_SYN ? 1 : 0) + (s.flags & TCP_FIN ? 1 : 0);
  return { client, fromClient, seq: s.seq, ack: s.ack, len: s.payload.length, flags, space, pure, dsack };
}

/** The IP ID, ports and sequence number of a packet: "the same segment", byte-identical or not. */
function identityOf(data: Uint8Array): string {
  const ihl = (data[0]! & 0x0f) * 4;
  return packetKey(Uint8Array.from([data[4]!, data[5]!, ...data.subarray(ihl, ihl + 8)]));
}

/** Paths of the three captures, and the service address (the re-sent segments' source). */
export interface ResentInputs {
  survivor: string;
  survivorName: string;
  killed: string;
  client: string;
  service?: string;
}

/** Every re-sent segment of the survivor and what the client did with it. */
export function resentSegments(inputs: ResentInputs): ResentSegment[] {
  const service = inputs.service ?? '192.0.2.10';
  const resent = readCapture(inputs.survivor).filter((p) => parseCaptureTag(p.comment)?.reemitted === true);
  if (resent.length === 0) return [];
  const primary = readCapture(inputs.killed).filter((p) => parseCaptureTag(p.comment)?.epoch !== undefined);
  const sentBytes = new Set(primary.map((p) => packetKey(p.data)));
  const sentIds = new Set(primary.map((p) => identityOf(p.data)));
  const client = readCapture(inputs.client);
  const used = new Set<number>();
  return resent.map((p) => {
    const key = packetKey(p.data);
    const seg = segOf(p.data, service);
    const base = {
      ref: `${inputs.survivorName}.pcapng#${p.frame}`,
      client: seg?.client ?? '?',
      seq: seg?.seq ?? 0,
      len: seg?.len ?? 0,
      flags: seg?.flags ?? '',
      sentByPrimary: sentIds.has(identityOf(p.data)),
      identical: sentBytes.has(key),
    };
    if (seg === undefined) return { ...base, answer: 'unseen' as const, answerRef: null, answerAck: null };
    return { ...base, ...answerTo(client, basename(inputs.client), key, seg, service, used) };
  });
}

/** The client's answer to the last copy of `key` in the client capture. */
function answerTo(client: readonly Captured[], clientFile: string, key: string, seg: Seg, service: string, used: Set<number>): Pick<ResentSegment, 'answer' | 'answerRef' | 'answerAck'> {
  let at = -1;
  for (let i = client.length - 1; i >= 0; i--) {
    if (packetKey(client[i]!.data) === key) {
      at = i;
      break;
    }
  }
  if (at < 0) return { answer: 'unseen', answerRef: null, answerAck: null };
  // The client's ACK just before the re-sent copy arrived, on this connection.
  let before: number | undefined;
  for (let i = at - 1; i >= 0 && before === undefined; i--) {
    const s = segOf(client[i]!.data, service);
    if (s?.fromClient === true && s.client === seg.client) before = s.ack;
  }
  // Had it: all of its sequence space lies below RCV.NXT (a pure ACK: its SEG.SEQ does). Such a
  // segment is not acceptable (RFC 9293 §3.10.7.4) and is answered; a pure ACK at RCV.NXT is not.
  const had = before !== undefined && (seg.pure ? seqDiff(before, seg.seq) > 0 : seqDiff(before, seg.seq + seg.space) >= 0);
  if (seg.pure && !had) return { answer: 'no-answer-due', answerRef: null, answerAck: null };
  for (let i = at + 1; i < client.length; i++) {
    const s = segOf(client[i]!.data, service);
    if (s === undefined || !s.fromClient || s.client !== seg.client || used.has(i)) continue;
    used.add(i);
    const ref = `${clientFile}#${client[i]!.frame}`;
    if (s.dsack) return { answer: 'd-sack', answerRef: ref, answerAck: s.ack };
    return { answer: had && s.ack === before ? 'duplicate-ack' : 'accepted', answerRef: ref, answerAck: s.ack };
  }
  return { answer: 'unseen', answerRef: null, answerAck: null };
}

/** A re-sent segment the client had and dropped as a duplicate. */
export function droppedAsDuplicate(s: ResentSegment): boolean {
  return s.identical && (s.answer === 'duplicate-ack' || s.answer === 'd-sack');
}

const ANSWER_TEXT: Record<ClientAnswer, (s: ResentSegment) => string> = {
  'duplicate-ack': (s) => `the client had it and dropped it: duplicate ACK ${String(s.answerAck)} (${String(s.answerRef)})`,
  'd-sack': (s) => `the client had it and dropped it: ACK ${String(s.answerAck)} with a D-SACK for it (${String(s.answerRef)})`,
  accepted: (s) => `the client did not have it and took it: ACK ${String(s.answerAck)} (${String(s.answerRef)})`,
  'no-answer-due': () => 'a pure ACK at the client\'s next expected byte: nothing in it to drop or answer',
  unseen: () => 'no answer from the client seen in the client capture',
};

/** One line per re-sent segment (at most `max` of `total`), what the primary had sent and what the client did. */
export function resentLines(segments: readonly ResentSegment[], killedName: string, max = 8, total = segments.length): string[] {
  const lines = segments.slice(0, max).map((s) => {
    const had = s.identical ? `byte-identical to what ${killedName} sent` : s.sentByPrimary ? `DIFFERENT from what ${killedName} sent` : `${killedName} never sent it (still held by the output rule)`;
    const what = s.len === 0 && s.flags === '' ? 'a pure ACK' : `${s.flags !== '' ? `${s.flags}, ` : ''}${s.len} byte(s)`;
    return `    ${s.ref} to ${s.client}, seq ${s.seq}, ${what}: ${had}; ${ANSWER_TEXT[s.answer](s)}`;
  });
  if (total > max) lines.push(`    ... and ${total - Math.min(max, segments.length)} more`);
  return lines;
}

/** What the survivor said at go-live (its `live` event). */
export interface GoLiveNote {
  r: number;
  lastIndex: number;
  reemitted: number;
  reemittedEntries: number;
}

/** Why a failover re-sent nothing, or nothing the client already had; undefined when it did. */
export function whyNoDuplicate(segments: readonly ResentSegment[], live: GoLiveNote | undefined, survivorName: string, killedName: string): string | undefined {
  if (segments.some(droppedAsDuplicate)) return undefined;
  if (live !== undefined && live.reemittedEntries === 0) {
    return `nothing to re-send: ${survivorName} had been told (r = ${live.r}) that every output up to its last entry ${live.lastIndex} was released, so no delivery was uncertain`;
  }
  if (live !== undefined && live.reemitted === 0) return `the ${live.reemittedEntries} entries above r = ${live.r} had no output to re-send`;
  if (segments.length > 0 && segments.every((s) => !s.sentByPrimary)) {
    return `no duplicate: ${killedName} still held ${segments.length === 1 ? 'it' : 'them'} under the output rule (${survivorName}'s acknowledgement had not reached it), so the client got ${segments.length === 1 ? 'it' : 'them'} for the first time`;
  }
  if (segments.length > 0 && segments.every((s) => s.answer === 'no-answer-due' || !s.sentByPrimary)) return 'no duplicate to drop: what the primary had sent of them were pure ACKs the client could take';
  if (segments.length > 0) return 'no duplicate dropped: see each segment above';
  if (live !== undefined) return `${survivorName} said it re-emitted ${live.reemitted} packet(s) at go-live, but its capture holds no segment marked re-emitted`;
  return `${survivorName}'s capture holds no segment marked re-emitted, and its go-live was not seen`;
}

/** The re-sent segments of a simulated failover (`demo failover --sim`), from its captures. */
export interface SimResent {
  segments: ResentSegment[];
  droppedByClient: number;
  whyNoDuplicate?: string;
}

/**
 * `captures`: the simulated demo's files (primary = the killed replica's wire, backup = the
 * survivor's, client = the client host's own view). undefined when no failover happened or a
 * capture is missing.
 */
export function simResent(captures: Partial<Record<'primary' | 'backup' | 'client', string>>, failover: { killed: string; by: string | undefined; goLive?: GoLiveNote } | null): SimResent | undefined {
  if (failover === null || failover.by === undefined || captures.primary === undefined || captures.backup === undefined || captures.client === undefined) return undefined;
  const segments = resentSegments({ survivor: captures.backup, survivorName: 'backup', killed: captures.primary, client: captures.client });
  const why = whyNoDuplicate(segments, failover.goLive, failover.by, failover.killed);
  return { segments, droppedByClient: segments.filter(droppedAsDuplicate).length, ...(why !== undefined ? { whyNoDuplicate: why } : {}) };
}
