/**
 * A simulated IPv4 network: hosts identified by address, joined by directed links that
 * delay, drop, duplicate, reorder and corrupt packets, and can be cut (partitions).
 *
 * Routing reads the destination address from the IPv4 header (bytes 16..19) and nothing
 * else, so the network carries any byte packet, valid or not. Every fault decision comes
 * from the link's own PRNG stream, seeded from (network seed, src, dst): adding a link or
 * changing another link's traffic never perturbs this one's decisions.
 *
 * Packets are treated as immutable: a corrupted copy is a fresh buffer, the sender's
 * bytes are never touched, and duplicate copies share the (unmodified) buffer.
 */
import { Prng } from '../tcp/prng.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { assertTimeUs } from './clock.js';
import { deriveSeed } from '../tcp/seed.js';
import type { Simulator } from './world.js';

export interface LinkParams {
  /** One-way propagation delay. */
  delayUs: number;
  /** Each packet waits a further uniform [0, jitterUs]; the link stays FIFO (later packets wait too). */
  jitterUs: number;
  /** Probability that a packet is lost. */
  loss: number;
  /** Probability that a packet is delivered twice (the copy gets its own delay). */
  duplicate: number;
  /** Probability that a packet is held back `reorderDelayUs` extra, so packets sent after it overtake it. */
  reorder: number;
  reorderDelayUs: number;
  /**
   * Probability that a delivered copy has one bit flipped at a uniform position. One
   * flipped bit always changes the internet checksum (RFC 1071), so the receiver must
   * drop it: an accepted corrupted packet is a bug in the stack, not bad luck.
   */
  corrupt: number;
  /** Serialisation rate in bits per second; undefined means infinitely fast. */
  bandwidthBps?: number;
  /** With a bandwidth: drop-tail bound on the bytes waiting to be serialised. Default unbounded. */
  queueLimitBytes?: number;
}

export const DEFAULT_LINK: Readonly<LinkParams> = {
  delayUs: 10_000,
  jitterUs: 0,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayUs: 20_000,
  corrupt: 0,
};

/** Counters per link and for the whole network. */
export interface FaultCounters {
  /** Packets handed to the link by the sender. */
  sent: number;
  /** Copies handed to the receiving host (duplicates included, corrupted ones included). */
  delivered: number;
  lost: number;
  /** Dropped because the link was down. */
  partitioned: number;
  /** Dropped by the drop-tail queue of a bandwidth-limited link. */
  queueDropped: number;
  /** Dropped because no host has the destination address, or the packet is shorter than an IPv4 header. */
  unroutable: number;
  /** Extra copies created. */
  duplicated: number;
  /** Copies held back so that later packets overtake them. */
  reordered: number;
  /** Copies delivered with a flipped bit. */
  corrupted: number;
}

export function zeroCounters(): FaultCounters {
  return { sent: 0, delivered: 0, lost: 0, partitioned: 0, queueDropped: 0, unroutable: 0, duplicated: 0, reordered: 0, corrupted: 0 };
}

function addCounters(into: FaultCounters, from: FaultCounters): void {
  for (const key of Object.keys(into) as (keyof FaultCounters)[]) into[key] += from[key];
}

/** What happened to one copy of a sent packet. */
export interface CopyFate {
  /** 0 for the original, 1 for the duplicate. */
  copy: number;
  arrivalUs: number;
  reordered: boolean;
  /** Index of the flipped bit (0 = most significant bit of byte 0), when corrupted. */
  corruptedBit?: number;
}

/** What the network decided for a packet at the moment it was sent. */
export interface SendFate {
  /** Why the packet never arrives, when it doesn't. */
  dropped?: 'lost' | 'partitioned' | 'queue-full' | 'unroutable';
  copies: CopyFate[];
}

export interface SendTrace {
  timeUs: number;
  /** The sending host's address (the link's source), not read from the packet. */
  from: Ipv4Addr;
  /** The destination read from the IPv4 header (0 when the packet is too short). */
  to: Ipv4Addr;
  /** The packet exactly as the sender emitted it, before any fault. */
  bytes: Uint8Array;
  fate: SendFate;
}

export interface DeliverTrace {
  timeUs: number;
  from: Ipv4Addr;
  to: Ipv4Addr;
  /** The bytes as they arrive (with the flipped bit, if corrupted). */
  bytes: Uint8Array;
  copy: CopyFate;
}

/**
 * Vantage-point hooks, called synchronously. `onSend` sees every packet at the sender's
 * egress, before faults, with the network's decision about it; `onDeliver` sees every
 * copy at the receiver's ingress, after faults, just before the host handles it.
 */
export interface NetworkTap {
  onSend?(trace: SendTrace): void;
  onDeliver?(trace: DeliverTrace): void;
}

export type PacketReceiver = (timeUs: number, bytes: Uint8Array) => void;

class Link {
  readonly counters = zeroCounters();
  up = true;
  /** When the transmitter finishes the packets already queued (bandwidth model). */
  busyUntilUs = 0;
  /** Latest arrival of a non-reordered copy, to keep jitter FIFO. */
  lastArrivalUs = 0;
  /** Packets sent before this time arrive no earlier than it (scheduleHold); -1: no hold. */
  holdUntilUs = -1;
  constructor(
    readonly src: Ipv4Addr,
    readonly dst: Ipv4Addr,
    public params: LinkParams,
    readonly prng: Prng,
  ) {}
}

export class Network {
  private readonly receivers = new Map<Ipv4Addr, PacketReceiver>();
  private readonly links = new Map<Ipv4Addr, Map<Ipv4Addr, Link>>();
  private readonly taps: NetworkTap[] = [];
  private readonly unroutable = zeroCounters();
  private defaultParams: LinkParams;

  constructor(
    private readonly sim: Simulator,
    private readonly seed: number,
    defaultLink: Partial<LinkParams> = {},
  ) {
    this.defaultParams = validateLinkParams({ ...DEFAULT_LINK, ...defaultLink });
  }

  /** Attach a host: packets whose IPv4 destination is `address` are handed to `receiver`. */
  attach(address: Ipv4Addr, receiver: PacketReceiver): void {
    if (this.receivers.has(address)) throw new Error(`Network.attach: ${formatIpv4Addr(address)} is already attached`);
    this.receivers.set(address, receiver);
  }

  addTap(tap: NetworkTap): void {
    this.taps.push(tap);
  }

  /** Parameters for links not configured with setLink (applies to links not yet used). */
  setDefaultLink(params: Partial<LinkParams>): void {
    this.defaultParams = validateLinkParams({ ...this.defaultParams, ...params });
  }

  /** Configure the directed link src -> dst (fields not given keep their current values). */
  setLink(src: Ipv4Addr, dst: Ipv4Addr, params: Partial<LinkParams>): void {
    const link = this.link(src, dst);
    link.params = validateLinkParams({ ...link.params, ...params });
  }

  /** Configure both directions between a and b. */
  setLinkPair(a: Ipv4Addr, b: Ipv4Addr, params: Partial<LinkParams>): void {
    this.setLink(a, b, params);
    this.setLink(b, a, params);
  }

  linkParams(src: Ipv4Addr, dst: Ipv4Addr): Readonly<LinkParams> {
    return this.link(src, dst).params;
  }

  /** Bring the directed link up or down now. Packets sent while it is down are dropped. */
  setLinkUp(src: Ipv4Addr, dst: Ipv4Addr, up: boolean): void {
    this.link(src, dst).up = up;
  }

  isLinkUp(src: Ipv4Addr, dst: Ipv4Addr): boolean {
    return this.link(src, dst).up;
  }

  /**
   * Cut both directions between a and b from `fromUs` until `toUs` (exclusive). Packets
   * already in flight when the cut starts still arrive; packets sent during it are lost.
   */
  schedulePartition(a: Ipv4Addr, b: Ipv4Addr, fromUs: number, toUs: number): void {
    assertTimeUs(fromUs);
    assertTimeUs(toUs);
    if (toUs < fromUs) throw new RangeError(`schedulePartition: end ${toUs} µs is before start ${fromUs} µs`);
    const target = `${formatIpv4Addr(a)}<->${formatIpv4Addr(b)}`;
    const set = (up: boolean) => () => {
      this.setLinkUp(a, b, up);
      this.setLinkUp(b, a, up);
    };
    this.sim.schedule(fromUs, { kind: 'link-down', target, run: set(false) });
    this.sim.schedule(toUs, { kind: 'link-up', target, run: set(true) });
  }

  /**
   * Hold the directed link from `src` to `dst` during [fromUs, toUs): packets sent meanwhile
   * are not lost but wait, and arrive (in order) at `toUs` at the earliest, as a relay that
   * stops forwarding and then lets its queue go. No random draw depends on it.
   */
  scheduleHold(src: Ipv4Addr, dst: Ipv4Addr, fromUs: number, toUs: number): void {
    assertTimeUs(fromUs);
    assertTimeUs(toUs);
    if (toUs < fromUs) throw new RangeError(`scheduleHold: end ${toUs} µs is before start ${fromUs} µs`);
    const target = `${formatIpv4Addr(src)}->${formatIpv4Addr(dst)}`;
    this.sim.schedule(fromUs, { kind: 'link-hold', target, run: () => (this.link(src, dst).holdUntilUs = toUs) });
    this.sim.schedule(toUs, { kind: 'link-release', target, run: () => (this.link(src, dst).holdUntilUs = -1) });
  }

  /** Cut the directed link from `src` to `dst` during [fromUs, toUs): packets sent meanwhile are lost. */
  scheduleCut(src: Ipv4Addr, dst: Ipv4Addr, fromUs: number, toUs: number): void {
    assertTimeUs(fromUs);
    assertTimeUs(toUs);
    if (toUs < fromUs) throw new RangeError(`scheduleCut: end ${toUs} µs is before start ${fromUs} µs`);
    const target = `${formatIpv4Addr(src)}->${formatIpv4Addr(dst)}`;
    this.sim.schedule(fromUs, { kind: 'link-down', target, run: () => this.setLinkUp(src, dst, false) });
    this.sim.schedule(toUs, { kind: 'link-up', target, run: () => this.setLinkUp(src, dst, true) });
  }

  /** Counters of one directed link. */
  linkCounters(src: Ipv4Addr, dst: Ipv4Addr): Readonly<FaultCounters> {
    return this.link(src, dst).counters;
  }

  /** Sum over all links (and unroutable packets). */
  counters(): FaultCounters {
    const total = zeroCounters();
    addCounters(total, this.unroutable);
    for (const byDst of this.links.values()) for (const link of byDst.values()) addCounters(total, link.counters);
    return total;
  }

  /** The host at `from` puts `bytes` on the wire now. */
  send(from: Ipv4Addr, bytes: Uint8Array): void {
    const nowUs = this.sim.nowUs;
    if (bytes.length < 20) {
      this.unroutable.sent++;
      this.unroutable.unroutable++;
      this.tapSend({ timeUs: nowUs, from, to: 0, bytes, fate: { dropped: 'unroutable', copies: [] } });
      return;
    }
    const to = ((bytes[16]! << 24) | (bytes[17]! << 16) | (bytes[18]! << 8) | bytes[19]!) >>> 0;
    const receiver = this.receivers.get(to);
    if (receiver === undefined) {
      this.unroutable.sent++;
      this.unroutable.unroutable++;
      this.tapSend({ timeUs: nowUs, from, to, bytes, fate: { dropped: 'unroutable', copies: [] } });
      return;
    }
    const link = this.link(from, to);
    const fate = this.decide(link, nowUs, bytes.length);
    this.tapSend({ timeUs: nowUs, from, to, bytes, fate });
    for (const copy of fate.copies) {
      const delivered = copy.corruptedBit === undefined ? bytes : flipBit(bytes, copy.corruptedBit);
      this.sim.schedule(copy.arrivalUs, {
        kind: 'deliver',
        target: formatIpv4Addr(to),
        run: () => {
          link.counters.delivered++;
          if (this.taps.length > 0) {
            const trace: DeliverTrace = { timeUs: this.sim.nowUs, from, to, bytes: delivered, copy };
            for (const tap of this.taps) tap.onDeliver?.(trace);
          }
          receiver(this.sim.nowUs, delivered);
        },
      });
    }
  }

  /** Every random draw for a packet happens here, in a fixed order, from the link's stream. */
  private decide(link: Link, nowUs: number, length: number): SendFate {
    const p = link.params;
    const c = link.counters;
    const rng = link.prng;
    c.sent++;
    if (!link.up) {
      c.partitioned++;
      return { dropped: 'partitioned', copies: [] };
    }
    if (rng.chance(p.loss)) {
      c.lost++;
      return { dropped: 'lost', copies: [] };
    }
    let departUs = nowUs;
    if (p.bandwidthBps !== undefined) {
      const startUs = Math.max(nowUs, link.busyUntilUs);
      const backlogBytes = ((startUs - nowUs) * p.bandwidthBps) / 8_000_000;
      if (p.queueLimitBytes !== undefined && backlogBytes + length > p.queueLimitBytes) {
        c.queueDropped++;
        return { dropped: 'queue-full', copies: [] };
      }
      departUs = startUs + Math.ceil((length * 8_000_000) / p.bandwidthBps);
      link.busyUntilUs = departUs;
    }
    const copyCount = rng.chance(p.duplicate) ? 2 : 1;
    if (copyCount === 2) c.duplicated++;
    const copies: CopyFate[] = [];
    for (let copy = 0; copy < copyCount; copy++) {
      let arrivalUs = departUs + p.delayUs + (p.jitterUs > 0 ? rng.below(p.jitterUs + 1) : 0);
      if (link.holdUntilUs > nowUs) arrivalUs = Math.max(arrivalUs, link.holdUntilUs);
      const reordered = rng.chance(p.reorder);
      if (reordered) {
        c.reordered++;
        arrivalUs += p.reorderDelayUs;
      } else {
        arrivalUs = Math.max(arrivalUs, link.lastArrivalUs);
        link.lastArrivalUs = arrivalUs;
      }
      const fate: CopyFate = { copy, arrivalUs, reordered };
      if (rng.chance(p.corrupt)) {
        c.corrupted++;
        fate.corruptedBit = rng.below(length * 8);
      }
      copies.push(fate);
    }
    return { copies };
  }

  private tapSend(trace: SendTrace): void {
    for (const tap of this.taps) tap.onSend?.(trace);
  }

  private link(src: Ipv4Addr, dst: Ipv4Addr): Link {
    let byDst = this.links.get(src);
    if (byDst === undefined) {
      byDst = new Map();
      this.links.set(src, byDst);
    }
    let link = byDst.get(dst);
    if (link === undefined) {
      link = new Link(src, dst, { ...this.defaultParams }, new Prng(deriveSeed(this.seed, 'link', src, dst)));
      byDst.set(dst, link);
    }
    return link;
  }
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >>> 3]! ^= 0x80 >>> (bit & 7);
  return copy;
}

function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`link ${name} must be a probability between 0 and 1, got ${p}`);
}

function checkDurationUs(name: string, us: number): void {
  if (!Number.isSafeInteger(us) || us < 0) throw new RangeError(`link ${name} must be a non-negative integer (µs), got ${us}`);
}

export function validateLinkParams(p: LinkParams): LinkParams {
  checkDurationUs('delayUs', p.delayUs);
  checkDurationUs('jitterUs', p.jitterUs);
  checkDurationUs('reorderDelayUs', p.reorderDelayUs);
  checkProbability('loss', p.loss);
  checkProbability('duplicate', p.duplicate);
  checkProbability('reorder', p.reorder);
  checkProbability('corrupt', p.corrupt);
  if (p.bandwidthBps !== undefined && !(p.bandwidthBps > 0 && Number.isFinite(p.bandwidthBps))) {
    throw new RangeError(`link bandwidthBps must be a positive number, got ${p.bandwidthBps}`);
  }
  if (p.queueLimitBytes !== undefined && !(p.queueLimitBytes >= 0)) {
    throw new RangeError(`link queueLimitBytes must be non-negative, got ${p.queueLimitBytes}`);
  }
  return p;
}
