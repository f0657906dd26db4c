/**
 * EtherHost: the replicated stack as a host on an Ethernet segment (DESIGN.md, "Network":
 * a real segment through a TAP device). Sans-I/O like the stack it wraps.
 *
 * API
 *   const host = new EtherHost(stack, { address, prefixLength, mac?, gateway?, ... });
 *   inputs:  host.handleFrame(now, frame)    a whole Ethernet II frame, no FCS (from the TAP)
 *            host.handleTimeout(now)         fires the stack's timers and the host's ARP and
 *                                            announcement deadlines that are due
 *            host.announce(now)              RFC 5227 §3 announcements (go-live)
 *            socket calls go to the stack itself (host.stack.listen / connect / write ...)
 *   outputs: host.pollTransmit(now)          the next Ethernet frame, until undefined; it
 *                                            pulls the stack's IPv4 packets and addresses them,
 *                                            so never call stack.pollTransmit() directly
 *            host.stack.pollEvent()          socket events, as before
 *            host.pollTimeout()              earliest deadline (µs) of stack and host, or undefined
 *   state:   host.snapshot() / EtherHost.restore(stack, bytes)   the host's own state (config,
 *            neighbour table, waiting packets, queued frames, announcements, stats), versioned
 *            and checksummed; the stack snapshots separately, at the same point
 *            host.stats(), host.neighbours()   read-only views
 * Call order after any input: pollTransmit(now) until undefined -> stack.pollEvent() until
 * undefined -> pollTimeout(). pollTransmit takes `now` (as quinn-proto's poll_transmit does)
 * because addressing a packet may start ARP resolution, whose retry deadline counts from now.
 *
 * Determinism: everything here is a function of (state, inputs, now); no clock, randomness
 * or I/O. Two hosts given the same inputs emit the same frames, Ethernet header included,
 * which is what lets a backup's frames stand in for the primary's.
 *
 * Left out: IP fragmentation, multicast IPv4 (packets to 224.0.0.0/4 are dropped as
 * 'no-route'), more than one address or prefix, routes other than the on-link prefix and
 * one default gateway, RFC 5227 address-conflict defence (conflicts are only counted),
 * RFC 5227 probing before the announcement (the arbiter, not the LAN, decides who owns
 * the address), ICMP errors for unresolved destinations, VLAN tags, IPv6.
 */
import { arpAnnouncementFrame, arpReplyFrame, arpRequestFrame, ARP_REQUEST, parseArp, type ArpDropReason, type ArpPacket } from '../wire/arp.js';
import type { Ipv4Addr } from '../wire/addr.js';
import {
  emitEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_LLDP,
  ETHERTYPE_VLAN,
  isMulticastMac,
  MAC_BROADCAST,
  parseEthernet,
  serviceMacFor,
  type EthernetDropReason,
  type MacAddr,
} from '../wire/ethernet.js';
import { decodeEtherHostSnapshot, encodeEtherHostSnapshot } from './ether-snapshot.js';
import { MAC_UNKNOWN, NeighbourTable, NO_DEADLINE, type Neighbour, type NeighbourLimits } from './neighbours.js';
import { StackError, type TcpStack } from './types.js';

/** RFC 5227 §1.1: ANNOUNCE_NUM announcements, ANNOUNCE_INTERVAL seconds apart. */
export const ANNOUNCE_NUM = 2;
export const ANNOUNCE_INTERVAL_US = 2_000_000;

/** What EtherHost needs of a stack (a Pick of TcpStack, so wrappers fit). */
export type EtherHostStack = Pick<TcpStack, 'handlePacket' | 'handleTimeout' | 'pollTransmit' | 'pollTimeout'>;

export interface EtherHostConfig {
  /** The service address; the stack must hold it in its `addresses`. */
  address: Ipv4Addr;
  /** Length of the on-link prefix (0-32): destinations inside it are resolved directly. */
  prefixLength: number;
  /** The service MAC. Default serviceMacFor(address) (02:66:<address>, src/wire/ethernet.ts). */
  mac?: MacAddr;
  /** Next hop for destinations off the prefix; without it they are dropped ('no-route'). A
   *  `mac` makes it a static entry; otherwise its MAC is resolved by ARP like any neighbour. */
  gateway?: { address: Ipv4Addr; mac?: MacAddr };
  /** RFC 1122 2.3.2.1: interval between ARP requests for one address. Default 1000 ms. */
  arpRetryMs?: number;
  /** Requests per resolution or poll before giving up. Default 3 (Linux mcast_solicit). */
  arpRequests?: number;
  /** Age after which an entry in use is polled again (RFC 1122 2.3.2.1). Default 30_000 ms. */
  reachableMs?: number;
  /** IPv4 packets waiting per unresolved address (RFC 1122 2.3.2.2). Default 32. */
  pendingPerNeighbour?: number;
  /** IPv4 packets waiting over all unresolved addresses. Default 256. */
  pendingTotal?: number;
  /** Neighbour entries. Default 256. */
  maxNeighbours?: number;
}

export interface ResolvedEtherHostConfig extends NeighbourLimits {
  address: Ipv4Addr;
  prefixLength: number;
  mac: MacAddr;
  /** -1: no gateway. */
  gatewayAddress: Ipv4Addr | -1;
  /** MAC_UNKNOWN: resolved by ARP. */
  gatewayMac: MacAddr;
}

/** Why a frame (inbound) or an IPv4 packet from the stack (outbound) was not delivered. */
export type EtherDropReason =
  | EthernetDropReason
  | ArpDropReason
  | 'own-source' // a frame whose source is our own MAC (a loop, or the other replica)
  | 'bad-source' // a group address as source MAC
  | 'other-host' // unicast to another MAC
  | 'multicast' // IPv4 or ARP to a group address other than broadcast
  | 'ipv6'
  | 'vlan'
  | 'lldp'
  | 'ethertype-other'
  | 'arp-conflict' // someone else claims our address (RFC 5227 §2.4: counted, not defended)
  | 'arp-bad-sender' // group or zero MAC as ARP sender
  | 'not-ipv4' // the stack handed over something that is not an IPv4 packet
  | 'no-route' // off-link with no gateway, or multicast
  | 'queue-full' // waiting queue full (RFC 1122 2.3.2.2)
  | 'unresolved' // resolution failed: the packets that waited
  | 'neighbour-table-full';

export interface EtherHostStats {
  framesIn: number;
  framesOut: number;
  /** IPv4 packets handed to the stack / sent out in frames. */
  ipv4In: number;
  ipv4Out: number;
  arpIn: number;
  arpRequestsOut: number;
  arpRepliesOut: number;
  announcementsOut: number;
  drops: Partial<Record<EtherDropReason, number>>;
}

/** Everything that changes, as plain data: what snapshot() serialises. */
export interface EtherHostState {
  cfg: ResolvedEtherHostConfig;
  neighbours: Map<Ipv4Addr, Neighbour>;
  /** Frames ready for pollTransmit, oldest first. */
  out: Uint8Array[];
  /** Announcements still to send, and when the next is due (NO_DEADLINE: none). */
  announceLeft: number;
  announceNextUs: number;
  stats: EtherHostStats;
}

function positiveInt(what: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < 1) throw new StackError('EINVAL', `EtherHost: ${what} must be a positive integer, got ${String(x)}`);
  return x;
}

function checkAddr(what: string, a: unknown): Ipv4Addr {
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a > 0xffffffff) throw new StackError('EINVAL', `EtherHost: bad ${what} ${String(a)}`);
  return a;
}

function checkMac(what: string, m: unknown): MacAddr {
  if (typeof m !== 'number' || !Number.isInteger(m) || m <= 0 || m >= MAC_BROADCAST || isMulticastMac(m)) {
    throw new StackError('EINVAL', `EtherHost: ${what} must be a unicast MAC, got ${String(m)}`);
  }
  return m;
}

export function resolveEtherHostConfig(c: EtherHostConfig): ResolvedEtherHostConfig {
  const address = checkAddr('address', c.address);
  if (!Number.isInteger(c.prefixLength) || c.prefixLength < 0 || c.prefixLength > 32) {
    throw new StackError('EINVAL', `EtherHost: prefixLength must be 0-32, got ${String(c.prefixLength)}`);
  }
  return {
    address,
    prefixLength: c.prefixLength,
    mac: checkMac('mac', c.mac ?? serviceMacFor(address)),
    gatewayAddress: c.gateway === undefined ? -1 : checkAddr('gateway address', c.gateway.address),
    gatewayMac: c.gateway?.mac === undefined ? MAC_UNKNOWN : checkMac('gateway mac', c.gateway.mac),
    arpRetryUs: positiveInt('arpRetryMs', c.arpRetryMs, 1000) * 1000,
    arpRequests: positiveInt('arpRequests', c.arpRequests, 3),
    reachableUs: positiveInt('reachableMs', c.reachableMs, 30_000) * 1000,
    pendingPerNeighbour: positiveInt('pendingPerNeighbour', c.pendingPerNeighbour, 32),
    pendingTotal: positiveInt('pendingTotal', c.pendingTotal, 256),
    maxNeighbours: positiveInt('maxNeighbours', c.maxNeighbours, 256),
  };
}

function newStats(): EtherHostStats {
  return { framesIn: 0, framesOut: 0, ipv4In: 0, ipv4Out: 0, arpIn: 0, arpRequestsOut: 0, arpRepliesOut: 0, announcementsOut: 0, drops: {} };
}

/** Private constructor argument of restore(). */
const RESTORE = Symbol('restore');

export class EtherHost {
  private readonly st: EtherHostState;
  private readonly cfg: ResolvedEtherHostConfig;
  private readonly table: NeighbourTable;
  private readonly mask: number;
  private outHead = 0;

  constructor(
    readonly stack: EtherHostStack,
    config: EtherHostConfig,
  ) {
    const restoring = (config as unknown as { [RESTORE]?: EtherHostState })[RESTORE];
    if (restoring !== undefined) {
      this.st = restoring;
    } else {
      const cfg = resolveEtherHostConfig(config);
      this.st = { cfg, neighbours: new Map(), out: [], announceLeft: 0, announceNextUs: NO_DEADLINE, stats: newStats() };
    }
    this.cfg = this.st.cfg;
    this.mask = this.cfg.prefixLength === 0 ? 0 : (0xffffffff << (32 - this.cfg.prefixLength)) >>> 0;
    this.table = new NeighbourTable(this.st.neighbours, this.cfg, {
      sendRequest: (ip, dst) => this.sendArpRequest(ip, dst),
      sendPacket: (mac, packet) => this.sendIpv4(mac, packet),
      drop: (reason, count) => this.drop(reason, count),
    });
    if (restoring === undefined && this.cfg.gatewayAddress !== -1 && this.cfg.gatewayMac !== MAC_UNKNOWN) {
      this.table.addStatic(this.cfg.gatewayAddress, this.cfg.gatewayMac);
    }
  }

  /** A host in the state snapshot() recorded, around `stack`. Corrupt bytes: StackError EINVAL. */
  static restore(stack: EtherHostStack, bytes: Uint8Array): EtherHost {
    return new EtherHost(stack, { [RESTORE]: decodeEtherHostSnapshot(bytes) } as unknown as EtherHostConfig);
  }

  /** The service MAC. */
  get mac(): MacAddr {
    return this.cfg.mac;
  }

  // ---------------------------------------------------------------- inputs

  /** An inbound Ethernet frame (no FCS). Never throws on its contents: drops are counted. */
  handleFrame(now: number, frame: Uint8Array): void {
    if (!(frame instanceof Uint8Array)) throw new StackError('EINVAL', 'handleFrame: frame must be a Uint8Array');
    this.st.stats.framesIn++;
    const eth = parseEthernet(frame);
    if (!eth.ok) return this.drop(eth.reason);
    const { dst, src, etherType } = eth.header;
    // Classified by type first: IPv6 and LLDP go to group addresses, and are counted as what they are.
    if (etherType === ETHERTYPE_IPV6) return this.drop('ipv6');
    if (etherType === ETHERTYPE_LLDP) return this.drop('lldp');
    if (etherType === ETHERTYPE_VLAN) return this.drop('vlan');
    if (etherType !== ETHERTYPE_IPV4 && etherType !== ETHERTYPE_ARP) return this.drop('ethertype-other');
    if (src === this.cfg.mac) return this.drop('own-source');
    if (isMulticastMac(src)) return this.drop('bad-source');
    if (dst !== this.cfg.mac && dst !== MAC_BROADCAST) return this.drop(isMulticastMac(dst) ? 'multicast' : 'other-host');
    if (etherType === ETHERTYPE_ARP) return this.handleArp(now, eth.payload);
    this.st.stats.ipv4In++;
    this.stack.handlePacket(now, eth.payload);
  }

  /** Fire whatever is due at `now`: the stack's timers, ARP retries, announcements. */
  handleTimeout(now: number): void {
    this.stack.handleTimeout(now);
    this.table.onTimeout(now);
    if (this.st.announceLeft > 0 && this.st.announceNextUs !== NO_DEADLINE && this.st.announceNextUs <= now) this.sendAnnouncement(now);
  }

  /**
   * RFC 5227 §3: announce the address, ANNOUNCE_NUM times ANNOUNCE_INTERVAL apart: the first
   * now, the others at deadlines handleTimeout() fires. Called again, it starts over.
   */
  announce(now: number): void {
    this.st.announceLeft = ANNOUNCE_NUM;
    this.sendAnnouncement(now);
  }

  // ---------------------------------------------------------------- outputs

  /** The next frame to put on the link, or undefined. */
  pollTransmit(now: number): Uint8Array | undefined {
    const out = this.st.out;
    while (this.outHead >= out.length) {
      out.length = 0;
      this.outHead = 0;
      const packet = this.stack.pollTransmit();
      if (packet === undefined) return undefined;
      this.route(now, packet);
    }
    const frame = out[this.outHead++]!;
    if (this.outHead === out.length) {
      out.length = 0;
      this.outHead = 0;
    }
    this.st.stats.framesOut++;
    return frame;
  }

  /** Earliest deadline (absolute µs) of the stack's timers and the host's, or undefined. */
  pollTimeout(): number | undefined {
    let t = this.table.nextDeadline();
    const a = this.st.announceLeft > 0 ? this.st.announceNextUs : NO_DEADLINE;
    if (a !== NO_DEADLINE && (t === NO_DEADLINE || a < t)) t = a;
    const s = this.stack.pollTimeout();
    if (s !== undefined && (t === NO_DEADLINE || s < t)) t = s;
    return t === NO_DEADLINE ? undefined : t;
  }

  // ---------------------------------------------------------------- state

  stats(): EtherHostStats {
    return structuredClone(this.st.stats);
  }

  /** The neighbour table, in table order (a copy). */
  neighbours(): { ip: Ipv4Addr; mac: MacAddr | undefined; state: Neighbour['state']; pending: number }[] {
    return [...this.st.neighbours.values()].map((n) => ({ ip: n.ip, mac: n.mac === MAC_UNKNOWN ? undefined : n.mac, state: n.state, pending: n.pending.length }));
  }

  /** The host's state as versioned, checksummed bytes (ether-snapshot.ts). */
  snapshot(): Uint8Array {
    return encodeEtherHostSnapshot({ ...this.st, out: this.st.out.slice(this.outHead) });
  }

  // ---------------------------------------------------------------- internals

  private drop(reason: EtherDropReason, count = 1): void {
    const d = this.st.stats.drops;
    d[reason] = (d[reason] ?? 0) + count;
  }

  private push(frame: Uint8Array): void {
    this.st.out.push(frame);
  }

  /** RFC 826 "Packet Reception". */
  private handleArp(now: number, payload: Uint8Array): void {
    const parsed = parseArp(payload);
    if (!parsed.ok) return this.drop(parsed.reason);
    const arp = parsed.arp;
    this.st.stats.arpIn++;
    const { address, mac } = this.cfg;
    if (arp.senderIp === address) {
      // RFC 5227 §2.4: another host uses our address. Never let it into the table.
      if (arp.senderMac !== mac) this.drop('arp-conflict');
      else this.drop('own-source');
      return;
    }
    if (arp.senderMac === 0 || isMulticastMac(arp.senderMac)) return this.drop('arp-bad-sender');
    // RFC 5227 §2.1.1: a probe (sender IP 0) must not update anyone's cache, but is answered.
    const probe = arp.senderIp === 0;
    // RFC 826: "If the pair <protocol type, sender protocol address> is already in my
    // translation table, update the sender hardware address field ... set Merge_flag".
    const merged = !probe && this.table.merge(now, arp.senderIp, arp.senderMac);
    // RFC 826: "?Am I the target protocol address?"
    if (arp.targetIp !== address) return;
    // RFC 826: "If Merge_flag is false, add the triplet ... to the translation table."
    if (!merged && !probe && this.onLink(arp.senderIp)) this.table.learn(now, arp.senderIp, arp.senderMac);
    // RFC 826: "?Is the opcode ares_op$REQUEST? (NOW look at the opcode!!)" Yes: reply.
    if (arp.op === ARP_REQUEST) this.sendArpReply(arp);
  }

  private sendArpReply(request: ArpPacket): void {
    this.st.stats.arpRepliesOut++;
    this.push(arpReplyFrame(this.cfg.mac, this.cfg.address, request));
  }

  private sendArpRequest(ip: Ipv4Addr, dst: MacAddr): void {
    this.st.stats.arpRequestsOut++;
    this.push(arpRequestFrame(this.cfg.mac, this.cfg.address, ip, dst === MAC_UNKNOWN ? MAC_BROADCAST : dst));
  }

  private sendAnnouncement(now: number): void {
    this.st.stats.announcementsOut++;
    this.push(arpAnnouncementFrame(this.cfg.mac, this.cfg.address));
    this.st.announceLeft--;
    this.st.announceNextUs = this.st.announceLeft > 0 ? now + ANNOUNCE_INTERVAL_US : NO_DEADLINE;
  }

  private sendIpv4(dst: MacAddr, packet: Uint8Array): void {
    this.st.stats.ipv4Out++;
    this.push(emitEthernet({ dst, src: this.cfg.mac, etherType: ETHERTYPE_IPV4 }, packet));
  }

  private onLink(ip: Ipv4Addr): boolean {
    return ((ip ^ this.cfg.address) & this.mask) === 0;
  }

  /** RFC 1122 3.3.1.1: on-link destinations directly, others through the gateway. */
  private route(now: number, packet: Uint8Array): void {
    if (packet.length < 20 || packet[0]! >> 4 !== 4) return this.drop('not-ipv4');
    const dst = ((packet[16]! << 24) | (packet[17]! << 16) | (packet[18]! << 8) | packet[19]!) >>> 0;
    // RFC 1122 3.3.6: limited and directed broadcasts go to the broadcast MAC.
    const directed = this.cfg.prefixLength < 31 && this.onLink(dst) && (dst | this.mask) >>> 0 === 0xffffffff;
    if (dst === 0xffffffff || directed) return this.sendIpv4(MAC_BROADCAST, packet);
    if (dst >>> 28 === 0xe) return this.drop('no-route');
    if (this.onLink(dst)) return this.table.send(now, dst, packet);
    if (this.cfg.gatewayAddress === -1) return this.drop('no-route');
    this.table.send(now, this.cfg.gatewayAddress, packet);
  }
}
