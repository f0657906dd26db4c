/**
 * The drive loop: how a host hands a Replica's outputs to the world after each input
 * (DESIGN.md, "The determinism contract": `handle*` takes an input, `poll*` hands out the
 * outputs). The simulator's ReplicaNode (src/sim/cluster-nodes.ts) and the real replica
 * process (src/net/replica-host.ts) both drain through drainReplica, so both act on the
 * outputs of an input in the same order:
 *
 *   1. pollTransmit()  client packets, in order; then the whole batch once (afterPackets)
 *   2. pollChannel()   frames for the peer replica
 *   3. pollArbiter()   test-and-set requests
 *   4. pollUpstream()  what this replica's own upstream app instance must do
 *   5. pollEvent()     announcements, go-live, fencing, shadowed outputs, faults
 *   6. pollTimeout()   the next deadline
 *
 * Why packets first: a host may die between putting packets on the wire and anything
 * else (the simulator's forced kill "just after releasing data, before telling the backup
 * r" happens in afterPackets); a host that reports itself `stopped` then hands over
 * nothing more, so the backup never hears of the release. Events last: an event's note
 * in a capture is attached to the next packet written (src/pcap/vantage.ts), so the
 * go-live note lands after the re-emitted packets of the same drain. The simulator's
 * captures were recorded in this order; it is part of their byte-for-byte identity.
 *
 * What this order asks of a host: at go-live the re-emitted packets (tagged with the new
 * epoch) come before the `announce` event of the same drain. A switch that forwards only
 * the holder's packets (src/net/switch.ts refuses them as `not-owner`) must see the claim
 * first, so a host claims the service address with ServicePacket.epoch before it sends
 * the first packet of an epoch it has not claimed yet; the `announce` event that follows
 * then finds the claim made. The simulator's switch forwards packets whatever the owner
 * (it drops only older epochs), so there the order is harmless as it is.
 *
 * The loop itself is pure: it reads no clock and calls only the sink.
 */
import type { UpstreamEvent } from '../proxy/upstream.js';
import type { ArbiterRequest } from './arbiter.js';
import type { ReplicaEvent, ServicePacket } from './outbox.js';
import type { Replica } from './replica.js';

/** Where a drained replica's outputs go; called in the order of the header comment. */
export interface ReplicaSink {
  packet(p: ServicePacket): void;
  /** After the packets of this drain, when there were any, with all of them. */
  afterPackets?(packets: ServicePacket[]): void;
  /** Checked after the packets: true when the host died meanwhile; nothing more is handed over. */
  stopped?(): boolean;
  channel(frame: Uint8Array): void;
  arbiter(request: ArbiterRequest): void;
  upstream(event: UpstreamEvent): void;
  event(event: ReplicaEvent): void;
  /** The replica's next deadline (undefined: none). */
  deadline(deadlineUs: number | undefined): void;
}

/** Hands every queued output of `r` to `sink`, in the documented order. */
export function drainReplica(r: Replica, sink: ReplicaSink): void {
  const packets: ServicePacket[] = [];
  for (let p = r.pollTransmit(); p !== undefined; p = r.pollTransmit()) {
    packets.push(p);
    sink.packet(p);
  }
  if (packets.length > 0) sink.afterPackets?.(packets);
  if (sink.stopped?.() === true) return;
  for (let f = r.pollChannel(); f !== undefined; f = r.pollChannel()) sink.channel(f);
  for (let q = r.pollArbiter(); q !== undefined; q = r.pollArbiter()) sink.arbiter(q);
  for (let u = r.pollUpstream(); u !== undefined; u = r.pollUpstream()) sink.upstream(u);
  for (let e = r.pollEvent(); e !== undefined; e = r.pollEvent()) sink.event(e);
  sink.deadline(r.pollTimeout());
}
