/**
 * When the primary may put a packet on the wire, and when the backup says it has an entry.
 *
 * Only the output rule (DESIGN.md "Primary": O(i) waits until the backup has acknowledged
 * entry i, which it does once it has applied it) is safe. The others exist so that
 * `ftcp experiment modes` can measure what the rule costs and what dropping it breaks:
 *
 *   output-rule     every output waits for the backup's ack of its entry (synchronous).
 *   async           every output goes at once; the log is shipped behind it. A failover
 *                   loses whatever the client saw from entries that never reached the backup.
 *   acks-at-once    semi-synchronous: segments that occupy sequence space (data, SYN, FIN,
 *                   RST) wait, pure ACKs go at once. A pure ACK tells the client the server
 *                   holds its bytes; the client drops them from its send buffer, and if their
 *                   entry never reached the backup, nobody has them any more.
 *   ack-on-receipt  the output waits, but the backup acknowledges the highest index it has
 *                   received, before putting entries in order and applying them. An entry lost
 *                   on the log channel behind a later one that arrived is acknowledged all the
 *                   same: the primary releases its output and forgets its copy, and the backup,
 *                   which can never apply past the gap, drops everything beyond it at go-live.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { ipv4OfFrame } from './ether-stack.js';

export const OUTPUT_MODES = ['output-rule', 'async', 'acks-at-once', 'ack-on-receipt'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

/** The mode of a replica's options: `outputMode`, else the older `outputRule: false` (async), else the output rule. */
export function outputModeOf(o: { outputMode?: OutputMode | undefined; outputRule?: boolean | undefined }): OutputMode {
  return o.outputMode ?? (o.outputRule === false ? 'async' : 'output-rule');
}

/**
 * True for a TCP segment that carries no data and no SYN, FIN or RST: it occupies no
 * sequence space (RFC 9293 section 3.4), so it only acknowledges and advertises a window.
 * `ethernet`: the packet is an Ethernet II frame (the RSM's Ethernet host).
 */
export function isPureAck(packet: Uint8Array, ethernet: boolean): boolean {
  const p = ethernet ? ipv4OfFrame(packet) : packet;
  if (p === undefined || p.length < 40 || p[0]! >> 4 !== 4 || p[9] !== 6) return false;
  const ihl = (p[0]! & 0x0f) * 4;
  if (p.length < ihl + 20) return false;
  const total = (p[2]! << 8) | p[3]!;
  const dataOffset = (p[ihl + 12]! >> 4) * 4;
  const flags = p[ihl + 13]!;
  return total - ihl - dataOffset <= 0 && (flags & TCP_ACK) !== 0 && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0;
}
