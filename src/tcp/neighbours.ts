/**
 * The neighbour table of the Ethernet host (ether-host.ts): the ARP cache of RFC 826 with
 * the resolution and polling rules of RFC 1122 2.3.2, as plain data so that it replicates
 * and snapshots with the host. Entries are kept in a Map in insertion order, and every
 * walk over them is in that order, so a restored table behaves exactly as the original.
 *
 * States (a subset of Linux's NUD states, which RFC 1122 2.3.2.1 leaves to the host):
 *  - incomplete: no MAC yet; IPv4 packets wait in `pending` while requests go out
 *    (broadcast) every retry interval, at most `arpRequests` times, then the entry and
 *    its packets are dropped ('unresolved');
 *  - reachable: MAC known and confirmed within `reachableUs`;
 *  - probe: MAC known but older than `reachableUs` when a packet was sent to it: packets
 *    still go to that MAC while unicast requests poll it (RFC 1122 2.3.2.1, "unicast
 *    poll"); an answer makes it reachable again, no answer removes the entry;
 *  - static: configured (a gateway with a known MAC), never changed by ARP.
 */
import type { Ipv4Addr } from '../wire/addr.js';
import type { MacAddr } from '../wire/ethernet.js';

export type NeighbourState = 'incomplete' | 'reachable' | 'probe' | 'static';

/** MAC of an incomplete entry. */
export const MAC_UNKNOWN = -1;
/** A deadline that is not armed. */
export const NO_DEADLINE = -1;

export interface Neighbour {
  ip: Ipv4Addr;
  /** MAC_UNKNOWN while incomplete. */
  mac: MacAddr;
  state: NeighbourState;
  /** When the mapping was last confirmed by an ARP packet from the neighbour (µs). */
  confirmedUs: number;
  /** ARP requests sent in the current round of resolution or polling. */
  requestsSent: number;
  /** When to send the next request or give up (µs), or NO_DEADLINE. */
  nextRequestUs: number;
  /** IPv4 packets waiting for the MAC, oldest first (incomplete entries only). */
  pending: Uint8Array[];
}

/** The limits the table works within (ResolvedEtherHostConfig carries them). */
export interface NeighbourLimits {
  arpRetryUs: number;
  arpRequests: number;
  reachableUs: number;
  pendingPerNeighbour: number;
  pendingTotal: number;
  maxNeighbours: number;
}

/** What the table asks of its host: frames out, counted drops. */
export interface NeighbourHost {
  /** Queue an ARP request for `ip`; `dst` is MAC_UNKNOWN for a broadcast. */
  sendRequest(ip: Ipv4Addr, dst: MacAddr): void;
  /** Queue an IPv4 packet to `mac`. */
  sendPacket(mac: MacAddr, packet: Uint8Array): void;
  drop(reason: 'queue-full' | 'unresolved' | 'neighbour-table-full', count?: number): void;
}

export class NeighbourTable {
  /** Packets waiting in all incomplete entries (derived, rebuilt from the entries). */
  private pendingCount = 0;

  constructor(
    readonly entries: Map<Ipv4Addr, Neighbour>,
    private readonly limits: NeighbourLimits,
    private readonly host: NeighbourHost,
  ) {
    for (const n of entries.values()) this.pendingCount += n.pending.length;
  }

  get pending(): number {
    return this.pendingCount;
  }

  /** A configured neighbour (RFC 1122 2.3.2.1 allows static entries). */
  addStatic(ip: Ipv4Addr, mac: MacAddr): void {
    this.entries.set(ip, { ip, mac, state: 'static', confirmedUs: 0, requestsSent: 0, nextRequestUs: NO_DEADLINE, pending: [] });
  }

  /** Send `packet` to `ip` on the link: at once when its MAC is known, else after resolving it. */
  send(now: number, ip: Ipv4Addr, packet: Uint8Array): void {
    let n = this.entries.get(ip);
    if (n === undefined) {
      if (!this.makeRoom()) {
        this.host.drop('neighbour-table-full');
        return;
      }
      n = { ip, mac: MAC_UNKNOWN, state: 'incomplete', confirmedUs: 0, requestsSent: 0, nextRequestUs: NO_DEADLINE, pending: [] };
      this.entries.set(ip, n);
      this.enqueue(n, packet);
      this.request(now, n);
      return;
    }
    if (n.state === 'incomplete') {
      this.enqueue(n, packet);
      return;
    }
    this.host.sendPacket(n.mac, packet);
    if (n.state === 'reachable' && now - n.confirmedUs >= this.limits.reachableUs) {
      // RFC 1122 2.3.2.1: validate an old entry by a unicast poll, keep using it meanwhile.
      n.state = 'probe';
      n.requestsSent = 0;
      this.request(now, n);
    }
  }

  /**
   * RFC 826 "merge": if the sender's IP is in the table, update its MAC. Returns whether it
   * was there. A newly learnt MAC releases the entry's waiting packets, in order.
   */
  merge(now: number, ip: Ipv4Addr, mac: MacAddr): boolean {
    const n = this.entries.get(ip);
    if (n === undefined) return false;
    if (n.state === 'static') return true;
    this.confirm(now, n, mac);
    return true;
  }

  /** RFC 826: "add the triplet" (when the packet was for us and the sender was not merged). */
  learn(now: number, ip: Ipv4Addr, mac: MacAddr): void {
    if (!this.makeRoom()) return; // a full table of busy entries: the sender will ask again
    const n: Neighbour = { ip, mac, state: 'reachable', confirmedUs: now, requestsSent: 0, nextRequestUs: NO_DEADLINE, pending: [] };
    this.entries.set(ip, n);
  }

  /** Earliest request deadline, or NO_DEADLINE. */
  nextDeadline(): number {
    let min = NO_DEADLINE;
    for (const n of this.entries.values()) {
      if (n.nextRequestUs !== NO_DEADLINE && (min === NO_DEADLINE || n.nextRequestUs < min)) min = n.nextRequestUs;
    }
    return min;
  }

  /** Retry or give up on every entry whose deadline has come, in table order. */
  onTimeout(now: number): void {
    for (const n of [...this.entries.values()]) {
      if (n.nextRequestUs === NO_DEADLINE || n.nextRequestUs > now) continue;
      if (n.requestsSent < this.limits.arpRequests) {
        this.request(now, n);
        continue;
      }
      // Resolution failed (incomplete) or the poll went unanswered (probe).
      if (n.pending.length > 0) this.host.drop('unresolved', n.pending.length);
      this.pendingCount -= n.pending.length;
      this.entries.delete(n.ip);
    }
  }

  private confirm(now: number, n: Neighbour, mac: MacAddr): void {
    n.mac = mac;
    n.state = 'reachable';
    n.confirmedUs = now;
    n.requestsSent = 0;
    n.nextRequestUs = NO_DEADLINE;
    const waiting = n.pending;
    n.pending = [];
    this.pendingCount -= waiting.length;
    for (const p of waiting) this.host.sendPacket(mac, p);
  }

  private request(now: number, n: Neighbour): void {
    n.requestsSent++;
    // RFC 1122 2.3.2.1: at most one request per retry interval per destination.
    n.nextRequestUs = now + this.limits.arpRetryUs;
    this.host.sendRequest(n.ip, n.state === 'probe' ? n.mac : MAC_UNKNOWN);
  }

  private enqueue(n: Neighbour, packet: Uint8Array): void {
    // RFC 1122 2.3.2.2: "SHOULD save (rather than discard) at least one (the latest) packet"
    // per unresolved address. When a bound is reached the entry's oldest packet makes room
    // for the new one (as Linux does); an entry with none to give up drops the new one.
    if (n.pending.length >= this.limits.pendingPerNeighbour || this.pendingCount >= this.limits.pendingTotal) {
      this.host.drop('queue-full');
      if (n.pending.length === 0) return;
      n.pending.shift();
      this.pendingCount--;
    }
    n.pending.push(packet);
    this.pendingCount++;
  }

  /**
   * Room for one more entry: true if the table is below its bound, or after evicting the
   * reachable/probe entry confirmed longest ago (the first such in table order on a tie).
   * Incomplete entries (they hold packets) and static ones are never evicted.
   */
  private makeRoom(): boolean {
    if (this.entries.size < this.limits.maxNeighbours) return true;
    let victim: Neighbour | undefined;
    for (const n of this.entries.values()) {
      if (n.state !== 'reachable' && n.state !== 'probe') continue;
      if (victim === undefined || n.confirmedUs < victim.confirmedUs) victim = n;
    }
    if (victim === undefined) return false;
    this.entries.delete(victim.ip);
    return true;
  }
}
