/**
 * How a replica's service packets reach the clients: the network attachment of the replica
 * host, behind one small interface so the host does not care which it is.
 *
 *   switch  a UdpLink to `ftcp switch` (the simulated LAN of the demos on loopback): raw
 *           IPv4 packets; the service address is claimed from the switch with the epoch,
 *           and the switch gives it to the highest epoch it has heard.
 *   tap     a TapLink to a TAP device on the host's bridge (a real Ethernet segment):
 *           whole Ethernet II frames; the replicated stack is an Ethernet host with the
 *           service MAC, and the new primary's gratuitous ARPs (outputs of the RSM's epoch
 *           entry) move the address. There is nothing to claim at the link.
 *
 * Only a live primary logs what arrives; a backup's attachment stays open but its frames
 * are ignored (its inputs come from the log). A tap link logs only frames for the service
 * (its MAC, or ARP about its address, or a broadcast): everything else a LAN carries
 * (other hosts' unicast, IPv6, LLDP, other hosts' ARP) is counted by reason and dropped
 * before the log, so a chatty LAN does not fill the log channel.
 */
import { parseArp } from '../wire/arp.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, MAC_BROADCAST, parseEthernet, type MacAddr } from '../wire/ethernet.js';
import type { ClusterKey } from './cluster-key.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { TapLink } from './tap-link.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../pcap/pcapng.js';
import { UdpLink } from './udp-link.js';


export type ServiceLinkKind = 'switch' | 'tap';

export interface ServiceLink {
  readonly kind: ServiceLinkKind;
  /** LINKTYPE_RAW (IPv4 packets) or LINKTYPE_ETHERNET (frames), for captures. */
  readonly linkType: number;
  /** Where this end is, for the start line. */
  readonly description: string;
  send(packet: Uint8Array): boolean;
  /** What arrives for the service (already filtered). */
  onPacket(handler: (packet: Uint8Array) => void): void;
  /** The switch moved the address to someone else (switch links only). */
  onSuperseded(handler: (epoch: number) => void): void;
  /** Claims the service address for `epoch` (a no-op on a tap link: the RSM's GARPs do it). */
  claim(epoch: number): void;
  /** Resolves when the claim of `epoch` took effect (at once on a tap link). */
  whenClaimed(epoch: number, timeoutMs: number): Promise<void>;
  stats(): { sent: number; received: number; dropped: Record<string, number> };
  close(): Promise<void>;
}

export interface SwitchLinkOptions {
  switchAt: Endpoint;
  bind?: Endpoint;
  mtu?: number;
  clusterKey?: ClusterKey | undefined;
  service: Ipv4Addr;
  /** This replica's own address on the switch (for its registration at start). */
  address: Ipv4Addr;
  startTimeoutMs: number;
}

export interface TapServiceOptions {
  /** The UDP port on 127.0.0.1 this replica binds, where socat sends the TAP's frames. */
  port: number;
  /** socat's source port (the peer of every frame). */
  socatPort: number;
  service: Ipv4Addr;
  serviceMac: MacAddr;
}

/** The UDP switch of the demos: registers this replica's own address first, so a wrong --switch fails at start. */
export async function openSwitchLink(o: SwitchLinkOptions, describeError: (e: unknown) => Error): Promise<ServiceLink> {
  const link = await UdpLink.open({ peer: o.switchAt, clusterKey: o.clusterKey, ...(o.bind !== undefined ? { bind: o.bind } : {}), ...(o.mtu !== undefined ? { mtu: o.mtu } : {}) });
  try {
    link.announce(o.address, 0);
    await link.whenRegistered(o.address, o.startTimeoutMs);
  } catch (error) {
    await link.close();
    throw describeError(error);
  }
  return {
    kind: 'switch',
    linkType: LINKTYPE_RAW,
    description: formatEndpoint(link.local),
    send: (p) => link.send(p),
    onPacket: (h) => link.onPacket(h),
    onSuperseded: (h) => link.onControl((m) => {
      if (m.type === 'superseded' && m.address === o.service) h(m.epoch);
    }),
    claim: (epoch) => link.announce(o.service, epoch),
    whenClaimed: (_epoch, timeoutMs) => link.whenRegistered(o.service, timeoutMs),
    stats: () => ({ sent: link.stats.packetsSent, received: link.stats.packetsReceived, dropped: { ...link.stats.dropped } }),
    close: () => link.close(),
  };
}

/** Why a frame from the LAN is not logged, or undefined when it is for the service. */
export type ForeignFrame = 'ipv6' | 'other-host' | 'other-arp' | 'other-ethertype' | 'runt';

/**
 * Whether the service must see `frame` (a pure function of the bytes): unicast to the
 * service MAC, or ARP about the service address (RFC 826: requests for it, and anything a
 * neighbour says that the host merges), or an IPv4 broadcast. Everything else is foreign.
 */
export function foreignFrame(frame: Uint8Array, service: Ipv4Addr, serviceMac: MacAddr): ForeignFrame | undefined {
  const eth = parseEthernet(frame);
  if (!eth.ok) return 'runt';
  const { dst, etherType } = eth.header;
  if (etherType === ETHERTYPE_IPV6) return 'ipv6';
  if (dst === serviceMac) return undefined;
  if (dst !== MAC_BROADCAST) return 'other-host';
  if (etherType === ETHERTYPE_ARP) {
    const arp = parseArp(eth.payload);
    if (!arp.ok) return 'runt';
    return arp.arp.targetIp === service ? undefined : 'other-arp';
  }
  return etherType === ETHERTYPE_IPV4 ? undefined : 'other-ethertype';
}

/** A TAP device on the host's bridge, through socat (the lab or the operator starts socat after this binds). */
export async function openTapLink(o: TapServiceOptions): Promise<ServiceLink> {
  const link = await TapLink.open({ port: o.port, socatPort: o.socatPort, bindFlag: '--tap-port' });
  const foreign: Record<string, number> = {};
  return {
    kind: 'tap',
    linkType: LINKTYPE_ETHERNET,
    description: `tap via 127.0.0.1:${o.port} (socat from port ${o.socatPort})`,
    send: (f) => link.send(f),
    onPacket: (h) => link.onFrame((frame) => {
      const why = foreignFrame(frame, o.service, o.serviceMac);
      if (why === undefined) h(frame);
      else foreign[why] = (foreign[why] ?? 0) + 1;
    }),
    onSuperseded: () => {},
    claim: () => {},
    whenClaimed: () => Promise.resolve(),
    stats: () => ({ sent: link.stats.framesOut, received: link.stats.framesIn, dropped: { ...link.stats.dropped, ...foreign } }),
    close: () => link.close(),
  };
}
