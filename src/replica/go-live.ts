/**
 * Going live (DESIGN.md "Going live"): what step 1 re-emits (reemitOutputs, at the end),
 * and step 5, every flow restarts at once.
 *
 * The re-emitted O(i), i > r, restart the flows that had output in flight above r. Every
 * other flow with unacknowledged sequence space (data released by the old primary and lost,
 * or whose acknowledgement went to the dead primary) would wait for a retransmission timer
 * that ran on the old primary's schedule, or for the client's own timeout. So the new
 * primary appends one `retransmit` entry after its epoch entry: applying it, every
 * connection retransmits its first unacknowledged segment now (RFC 9293 §3.8.1, RFC 6298
 * (5.4) and (5.6), without the (5.5) back-off). It is a log entry like any other input,
 * so its outputs are the stack's own, the same on any replica that applies it (a replay of
 * the log gives the same bytes), and only the new primary, alone, releases them.
 *
 * A connection whose segment at SND.UNA was among the re-emitted packets is skipped: the
 * client is getting exactly that segment already. Handshakes (SYN-RECEIVED) are left alone:
 * their SYN-ACK timer and the client's SYN retransmission finish them.
 */
import { MAX_RETRANSMIT_SKIP } from './log.js';
import { ipv4OfFrame } from './ether-stack.js';
import { isPureAck } from './output-mode.js';
import { packetRemoteKey } from './remote-key.js';
import { HeldRepeats, repeatConn, repeatKey } from './repeats.js';
import type { Rsm } from './rsm.js';

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;

/** The sequence number and the sequence space (data + SYN + FIN) of an IPv4/TCP packet, unvalidated. */
function tcpSeqSpace(ip: Uint8Array): { seq: number; len: number } | undefined {
  if (ip.length < 20 || ip[0]! >> 4 !== 4 || ip[9] !== 6) return undefined;
  const ihl = (ip[0]! & 0x0f) * 4;
  if (ip.length < ihl + 20) return undefined;
  const total = Math.min(ip.length, (ip[2]! << 8) | ip[3]!);
  const doff = (ip[ihl + 12]! >> 4) * 4;
  const flags = ip[ihl + 13]!;
  const seq = ((ip[ihl + 4]! << 24) | (ip[ihl + 5]! << 16) | (ip[ihl + 6]! << 8) | ip[ihl + 7]!) >>> 0;
  const len = Math.max(0, total - ihl - doff) + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
  return { seq, len };
}

/**
 * The connections whose segment at SND.UNA is among `reemitted` (the new primary's own
 * outputs, O(i) for i > r), ascending, at most MAX_RETRANSMIT_SKIP of them (beyond that a
 * flow's first segment simply goes twice).
 */
export function reemittedFlows(rsm: Rsm, reemitted: Iterable<Uint8Array>): number[] {
  const skip = new Set<number>();
  for (const packet of reemitted) {
    const ip = rsm.config.ethernet === undefined ? packet : ipv4OfFrame(packet);
    const seg = ip === undefined ? undefined : tcpSeqSpace(ip);
    if (seg === undefined || seg.len === 0) continue;
    const socket = rsm.outputSocket(packet);
    if (socket === undefined || skip.has(socket)) continue;
    let una: number;
    try {
      una = rsm.info(socket).sndUna >>> 0;
    } catch {
      continue; // released meanwhile
    }
    if (una === seg.seq) skip.add(socket);
  }
  return [...skip].sort((a, b) => a - b).slice(0, MAX_RETRANSMIT_SKIP);
}

/** The client end (packetRemoteKey) of an output packet and whether it carries a FIN; key -1 when it is not TCP of the service. */
function flowAndFin(rsm: Rsm, packet: Uint8Array): { key: number; fin: boolean } {
  const ip = rsm.config.ethernet === undefined ? packet : ipv4OfFrame(packet);
  if (ip === undefined) return { key: -1, fin: false };
  const key = packetRemoteKey(ip, false, rsm.config.servicePort);
  const ihl = ((ip[0] ?? 0) & 0x0f) * 4;
  return { key, fin: key >= 0 && ip.length > ihl + 13 && (ip[ihl + 13]! & TCP_FIN) !== 0 };
}

/**
 * Going live, step 1: which shadowed outputs above r are re-emitted. All of them, in order,
 * byte for byte, except repeats (below) and two kinds of pure ACK (no data, SYN, FIN or RST: no sequence space,
 * RFC 9293 §3.4) that a client which has finished the connection would answer, once the
 * old primary's copy had reached it, in a way that ends in a RST:
 *
 * - a pure ACK followed, among the re-emitted, by a FIN of the same connection (a client
 *   that closed first gets "ACK, then FIN" as one entry's output). The FIN segment
 *   acknowledges as much (RCV.NXT only grows) with a newer window. A client in TIME-WAIT
 *   that had both answers each of them with an ACK (RFC 9293 §3.10.7.4; Linux answers an
 *   old segment in TIME-WAIT too); the first answer ends the new primary's LAST-ACK
 *   (§3.10.7.4, LAST-ACK), and the second then finds no connection: RST (§3.10.7.1).
 * - a pure ACK of a connection the new primary has in TIME-WAIT or no longer has. It may be
 *   the last ACK of a client that closed second: LAST-ACK ended on the old primary's copy,
 *   and a client with no connection answers an ACK with a RST (§3.10.7.1). If the copy
 *   never reached it, the client retransmits its FIN, which TIME-WAIT acknowledges
 *   (§3.10.7.4, TIME-WAIT).
 *
 * And a repeat (repeats.ts): a segment made again while its first copy was held, identical
 * to an earlier re-emitted one. The client gets the first copy now; the second would only be
 * answered a second time, by a client that may have finished the connection on the first.
 *
 * Entries are kept (an entry may be left with no packet), so the count of entries above r
 * stays what the backup shadowed.
 */
export function reemitOutputs<T extends { index: number; packets: Uint8Array[] }>(rsm: Rsm, shadowed: readonly T[]): T[] {
  const ethernet = rsm.config.ethernet !== undefined;
  const finAfter = new Map<number, number>(); // client end -> position of its last re-emitted FIN
  let pos = 0;
  for (const s of shadowed) {
    for (const p of s.packets) {
      const f = flowAndFin(rsm, p);
      if (f.fin) finAfter.set(f.key, pos);
      pos++;
    }
  }
  const finished = (p: Uint8Array): boolean => {
    const socket = rsm.outputSocket(p);
    if (socket === undefined) return true;
    try {
      const state = rsm.info(socket).state;
      return state === 'TIME-WAIT' || state === 'CLOSED';
    } catch {
      return true; // released meanwhile
    }
  };
  pos = 0;
  const repeats = new HeldRepeats();
  const keep = (p: Uint8Array, at: number): boolean => {
    if (!isPureAck(p, ethernet)) return true;
    const f = flowAndFin(rsm, p);
    if (f.key < 0) return true;
    if ((finAfter.get(f.key) ?? -1) > at) return false;
    return !finished(p);
  };
  return shadowed.map((s) => {
    // All leave now: a repeat is of one still "held" (re-emitted just before it).
    const packets = s.packets.filter((p) => keep(p, pos++) && repeats.admit(repeatKey(p, ethernet, rsm.config.servicePort), 0, repeatConn(rsm, p)));
    return packets.length === s.packets.length ? s : { ...s, packets };
  });
}
