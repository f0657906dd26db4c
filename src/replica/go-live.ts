/**
 * Going live, step 5 (DESIGN.md "Going live"): every flow restarts at once.
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
