/**
 * Repeats: a FIN (or a last ACK) the stack made again only because the output rule
 * (DESIGN.md "Primary") held the first copy.
 *
 * The stack's timers run on the primary's clock from the moment it made a segment, not
 * from the moment the segment left: the output rule may hold it longer than the tail loss
 * probe timeout (RFC 8985 §7.2, 2·SRTT + 200 ms with one segment in flight) or the
 * retransmission timeout (RFC 6298 (5.4)). Then the probe or the retransmission of that
 * very FIN (RFC 8985 §7.3: the highest-sequence segment again) is made while the original
 * still waits, and both leave together when the backup's acknowledgement comes; or the
 * timer, counted from the making, fires again just after the release, before any answer
 * could come back. Likewise a client whose FIN our held ACK did not answer in time
 * retransmits it, and a connection in TIME-WAIT answers each copy with the same ACK
 * (RFC 9293 §3.10.7.4).
 *
 * A peer that gets the same FIN, or the same last ACK, twice answers the first and finishes
 * its connection (TIME-WAIT, resp. CLOSED after LAST-ACK), and the second draws an answer
 * that finds no connection: a RST (RFC 9293 §3.10.7.1). So these repeats are not sent:
 *
 * - a FIN segment identical to an earlier one of the same connection (flags, sequence
 *   number, length, acknowledgment number, window; the timestamps may differ) that is
 *   still held, or that left less than the connection's retransmission timeout ago (the
 *   timer of RFC 6298 (5.1) runs from the sending; the output rule sent it late);
 * - a pure ACK identical to one still held, when the stack has the connection in
 *   TIME-WAIT (any other repeated pure ACK may be a duplicate ACK the client counts,
 *   RFC 5681 §2).
 *
 * Only output is filtered: the RSM made both copies, and every replica's state is the same.
 * Whatever is still sent is the stack's own bytes. Going live applies the same rule to the
 * outputs it re-emits (go-live.ts): the old primary may have released both copies or neither.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { ipv4OfFrame } from './ether-stack.js';
import { packetRemoteKey } from './remote-key.js';
import type { Rsm } from './rsm.js';


/** What makes two segments of a service connection the same, and whether one is a pure ACK or carries a FIN. */
export interface RepeatKey {
  key: string;
  /** The connection's client end (packetRemoteKey). */
  remote: number;
  pureAck: boolean;
  fin: boolean;
}

/**
 * The repeat key of an output packet (IPv4, or an Ethernet II frame when `ethernet`): only
 * for a segment with a FIN and for a pure ACK of a service connection, the two a finished
 * peer answers in a way that ends in a RST. Undefined for everything else (a repeated data
 * segment draws a duplicate ACK, RFC 9293 §3.10.7.4, and nothing worse).
 */
export function repeatKey(packet: Uint8Array, ethernet: boolean, servicePort: number, closing?: (remote: number) => boolean): RepeatKey | undefined {
  const ip = ethernet ? ipv4OfFrame(packet) : packet;
  if (ip === undefined || ip.length < 40) return undefined;
  const ihl = (ip[0]! & 0x0f) * 4;
  if (ip.length < ihl + 20) return undefined;
  const flags = ip[ihl + 13]!;
  const total = Math.min(ip.length, (ip[2]! << 8) | ip[3]!);
  const len = Math.max(0, total - ihl - (ip[ihl + 12]! >> 4) * 4);
  const fin = (flags & (TCP_FIN | TCP_SYN | TCP_RST)) === TCP_FIN;
  const pureAck = len === 0 && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && (flags & TCP_ACK) !== 0;
  if (!fin && !pureAck) return undefined;
  const remote = packetRemoteKey(ip, false, servicePort);
  if (remote < 0) return undefined;
  // `closing`: a pure ACK matters only once its connection has made its FIN (HeldRepeats.closing).
  if (pureAck && closing !== undefined && !closing(remote)) return undefined;
  const seq = ((ip[ihl + 4]! << 24) | (ip[ihl + 5]! << 16) | (ip[ihl + 6]! << 8) | ip[ihl + 7]!) >>> 0;
  const ack = ((ip[ihl + 8]! << 24) | (ip[ihl + 9]! << 16) | (ip[ihl + 10]! << 8) | ip[ihl + 11]!) >>> 0;
  const win = (ip[ihl + 14]! << 8) | ip[ihl + 15]!;
  return { key: `${remote}:${flags}:${seq}:${len}:${ack}:${win}`, remote, pureAck, fin };
}

/** What admit() may ask about the connection of a packet that repeats one. */
export interface RepeatConn {
  /** The stack has the connection in TIME-WAIT. */
  timeWait(): boolean;
  /** The connection's retransmission timeout now, µs (0 when it is gone). */
  rtoUs(): number;
}

/** Deletes the entries of an insertion-ordered deadline map that have passed, from the oldest on. */
function prune<K>(m: Map<K, number>, nowUs: number): void {
  for (const [key, until] of m) {
    if (until > nowUs) break;
    m.delete(key);
  }
}

/** How long a closing connection's pure ACKs are judged after its last FIN was made. */
const CLOSING_US = 10_000_000;

/**
 * The keys of the segments held (or, going live, already re-emitted), counted; and for each
 * FIN, and each pure ACK of a connection that has made its FIN, until when a copy made
 * again is still one the output rule caused: so that a repeat is recognised as it is made.
 */
export class HeldRepeats {
  private readonly held = new Map<string, number>();
  /** Key -> until when (the replica's clock) a repeat of the copy that left is dropped, oldest first. */
  private readonly sent = new Map<string, number>();
  /** Client end -> until when the connection counts as closing (its pure ACKs may be TIME-WAIT's). */
  private readonly closing = new Map<number, number>();

  /**
   * Keep the packet of key `k`, made at `nowUs` (true: its key is counted until release()),
   * or drop it as a repeat (false) of one still held, or of one that left so recently that
   * no answer to it could be missed yet (left()). A pure ACK only in TIME-WAIT.
   */
  admit(k: RepeatKey | undefined, nowUs: number, conn: RepeatConn): boolean {
    if (k === undefined) return true;
    if (k.fin || this.closing.has(k.remote)) {
      const repeat = (this.held.get(k.key) ?? 0) > 0 || (this.sent.get(k.key) ?? -1) > nowUs;
      if (repeat && (!k.pureAck || conn.timeWait())) return false;
    }
    if (k.fin) {
      this.closing.delete(k.remote);
      this.closing.set(k.remote, nowUs + CLOSING_US);
      prune(this.closing, nowUs);
    }
    this.held.set(k.key, (this.held.get(k.key) ?? 0) + 1);
    return true;
  }

  /** A kept packet left at `nowUs`. */
  release(k: RepeatKey | undefined, nowUs: number, conn: RepeatConn): void {
    if (k === undefined) return;
    const n = (this.held.get(k.key) ?? 0) - 1;
    if (n > 0) this.held.set(k.key, n);
    else this.held.delete(k.key);
    this.left(k, nowUs, conn);
  }

  /**
   * A FIN or a closing connection's ACK went out at `nowUs` (released, or re-emitted at
   * go-live). For half the connection's retransmission timeout from now, a copy made again
   * is the stack's timer counted from the making (RFC 6298 (5.1) counts from the sending),
   * or the answer to a segment that crossed this one: not sent. A retransmission of the
   * stack's own, one timeout after the making, comes later than that (the output rule
   * holds for a round trip of the log channel, not for half a timeout).
   */
  left(k: RepeatKey | undefined, nowUs: number, conn: RepeatConn): void {
    if (k === undefined) return;
    if (k.fin && !this.closing.has(k.remote)) this.closing.set(k.remote, nowUs + CLOSING_US);
    if (!(k.fin || this.closing.has(k.remote)) || this.sent.has(k.key)) return;
    this.sent.set(k.key, nowUs + Math.floor(conn.rtoUs() / 2));
    prune(this.sent, nowUs);
  }

  /** The connection of client end `remote` has made its FIN lately. */
  isClosing(remote: number): boolean {
    return this.closing.has(remote);
  }

  /** Nothing is held any more (fenced, or alone: everything held went out). */
  clearHeld(): void {
    this.held.clear();
  }
}

/** The RepeatConn of output `packet` in `rsm`. */
export function repeatConn(rsm: Rsm, packet: Uint8Array): RepeatConn {
  const info = () => {
    const socket = rsm.outputSocket(packet);
    if (socket === undefined) return undefined;
    try {
      return rsm.info(socket);
    } catch {
      return undefined; // released meanwhile
    }
  };
  return { timeWait: () => info()?.state === 'TIME-WAIT', rtoUs: () => (info()?.rtoMs ?? 0) * 1000 };
}

/** The packets of one entry, made at `nowUs`, that repeat no held or just-sent one (admitted to `repeats`), with their keys, and how many were dropped. */
export function admitMade(repeats: HeldRepeats, rsm: Rsm, packets: Uint8Array[], nowUs: number): { packets: Uint8Array[]; keys: Array<RepeatKey | undefined>; dropped: number } {
  const ethernet = rsm.config.ethernet !== undefined;
  const closing = (remote: number) => repeats.isClosing(remote);
  let keys: Array<RepeatKey | undefined> | undefined;
  let kept: Uint8Array[] | undefined;
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i]!;
    const k = repeatKey(p, ethernet, rsm.config.servicePort, closing);
    if (k === undefined) {
      kept?.push(p);
      keys?.push(undefined);
      continue;
    }
    // The first keyed packet: from here on keys (and kept) are per packet. Data alone allocates nothing.
    keys ??= new Array<RepeatKey | undefined>(i).fill(undefined);
    kept ??= packets.slice(0, i);
    if (!repeats.admit(k, nowUs, repeatConn(rsm, p))) continue;
    kept.push(p);
    keys.push(k);
  }
  if (kept === undefined) return { packets, keys: NO_KEYS, dropped: 0 };
  return { packets: kept, keys: keys!, dropped: packets.length - kept.length };
}

/** The keys of packets none of which is keyed (Held.keys may be shorter than its packets). */
const NO_KEYS: Array<RepeatKey | undefined> = [];
