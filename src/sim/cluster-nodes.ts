/**
 * The machines of a simulated cluster: replica hosts that drive a Replica state machine,
 * the arbiter host, and the switch that owns the service address.
 *
 * A replica host drains its replica after every input, as the sans-I/O contract asks, through
 * the one drive loop (src/replica/drive.ts, which documents the order):
 * client packets go to the switch (tagged with the replica's epoch), log-channel frames
 * and arbiter requests go on the simulated network as UDP datagrams, events go to the
 * cluster's observer, and pollTimeout() becomes a timer task (a generation number
 * retires stale ones, as in host.ts). A crashed host does nothing, ever again; packets it
 * sent before the crash are still in flight and arrive.
 */
import { decodeArbiter, encodeArbiter, TestAndSetArbiter } from '../replica/arbiter.js';
import type { UpstreamEvent } from '../proxy/upstream.js';
import type { ReplicaEvent, ServicePacket } from '../replica/outbox.js';
import type { Replica } from '../replica/replica.js';
import { drainReplica } from '../replica/drive.js';
import { servicePacketComment, shadowTag } from '../replica/capture-tags.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { CaptureFile } from '../pcap/vantage.js';
import { parseUdp, udpPacket } from '../wire/udp.js';
import { ARBITER_PORT, LOG_PORT } from '../replica/replay-input.js';
import type { Network } from './network.js';
import type { Simulator } from './world.js';

/** A vantage point: an interface of a capture file. */
export interface Vantage {
  file: CaptureFile;
  iface: number;
}

/** Owns the service address: forwards client packets to the replica with the highest epoch announced. */
export class Switch {
  owner: string | undefined;
  ownerEpoch = 0;
  /** Client packets that arrived while the owner was down (or before anyone announced). */
  blackholed = 0;
  /** Packets from replicas of an older epoch than the owner's, dropped. */
  droppedStale = 0;
  /** Per epoch, the replicas that emitted client packets in it (two = split brain). */
  readonly emittersByEpoch = new Map<number, Set<string>>();
  readonly nodes = new Map<string, ReplicaNode>();
  onOwnerChange: ((name: string, epoch: number) => void) | undefined;

  constructor(private readonly network: Network) {}

  announce(name: string, epoch: number): void {
    if (epoch <= this.ownerEpoch) return;
    this.owner = name;
    this.ownerEpoch = epoch;
    this.onOwnerChange?.(name, epoch);
  }

  ingress(nowUs: number, bytes: Uint8Array): void {
    const node = this.owner === undefined ? undefined : this.nodes.get(this.owner);
    if (node === undefined || node.crashed) {
      this.blackholed++;
      return;
    }
    node.deliverService(nowUs, bytes);
  }

  /** Returns false when the packet is dropped for its stale epoch. */
  egress(node: ReplicaNode, p: ServicePacket): boolean {
    let set = this.emittersByEpoch.get(p.epoch);
    if (set === undefined) {
      set = new Set();
      this.emittersByEpoch.set(p.epoch, set);
    }
    set.add(node.name);
    if (p.epoch < this.ownerEpoch) {
      this.droppedStale++;
      return false;
    }
    this.network.send(node.address, p.packet);
    return true;
  }
}

export interface ReplicaNodeHooks {
  /** Every event the replica reports. */
  onEvent(node: ReplicaNode, event: ReplicaEvent): void;
  /** After each batch of client packets the replica emitted (the forced-crash trigger looks here). */
  afterTransmit?(node: ReplicaNode, packets: ServicePacket[]): void;
  /** Upstream app: what this replica's own app instance must do. */
  onUpstream?(node: ReplicaNode, event: UpstreamEvent): void;
  /** After the replica has handled one input and everything it output is on its way. */
  afterDrain?(node: ReplicaNode): void;
}

export class ReplicaNode {
  replica: Replica | undefined;
  crashed = false;
  crashedAtUs: number | undefined;
  /** Bytes of every client packet this replica put on the wire (latin1 keys), for byte-for-byte comparisons. */
  readonly egressSet = new Set<string>();
  egressPackets = 0;
  /** Packets re-emitted at go-live. */
  readonly reemittedPackets: Uint8Array[] = [];
  private ipId = 0;
  private timerGeneration = 0;
  private armedUs: number | undefined;
  private draining = false;
  vantage: Vantage | undefined;
  shadowVantage: Vantage | undefined;

  constructor(
    private readonly sim: Simulator,
    private readonly network: Network,
    private readonly sw: Switch,
    readonly name: string,
    readonly address: Ipv4Addr,
    private readonly arbiterAddress: Ipv4Addr,
    private readonly addressOf: (name: string) => Ipv4Addr | undefined,
    private readonly hooks: ReplicaNodeHooks,
  ) {
    sw.nodes.set(name, this);
    network.attach(address, (nowUs, bytes) => this.onNetwork(nowUs, bytes));
  }

  start(replica: Replica): void {
    this.replica = replica;
    this.drain();
  }

  /** The machine stops: no input is handled and nothing is sent, from now on. */
  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    this.crashedAtUs = this.sim.nowUs;
    this.timerGeneration++;
    this.armedUs = undefined;
  }

  deliverService(nowUs: number, bytes: Uint8Array): void {
    if (this.crashed || this.replica === undefined) return;
    this.replica.handleServicePacket(nowUs, bytes);
    if (this.vantage !== undefined) this.vantage.file.write(this.vantage.iface, nowUs, bytes, `log entry ${this.replica.rsm?.index ?? '?'}`);
    this.drain();
  }

  private onNetwork(nowUs: number, bytes: Uint8Array): void {
    if (this.crashed || this.replica === undefined) return;
    const d = parseUdp(bytes);
    if (d === undefined) return;
    if (d.dstPort === LOG_PORT) this.replica.handleChannel(nowUs, d.payload);
    else if (d.dstPort === ARBITER_PORT) this.replica.handleArbiter(nowUs, d.payload);
    this.drain();
  }

  drain(): void {
    const r = this.replica;
    if (this.draining || r === undefined || this.crashed) return;
    this.draining = true;
    try {
      drainReplica(r, {
        packet: (p) => this.egress(p),
        afterPackets: (sent) => this.hooks.afterTransmit?.(this, sent),
        stopped: () => this.crashed,
        channel: (f) => {
          const peer = r.peer === undefined ? undefined : this.addressOf(r.peer);
          if (peer !== undefined) this.network.send(this.address, udpPacket(this.address, peer, LOG_PORT, LOG_PORT, f, this.ipId++));
        },
        arbiter: (q) => this.network.send(this.address, udpPacket(this.address, this.arbiterAddress, ARBITER_PORT, ARBITER_PORT, encodeArbiter(q), this.ipId++)),
        upstream: (u) => this.hooks.onUpstream?.(this, u),
        event: (e) => {
          if (e.type === 'shadow' && this.shadowVantage !== undefined) {
            this.shadowVantage.file.write(this.shadowVantage.iface, this.sim.nowUs, e.packet, shadowTag(e.index));
          }
          this.hooks.onEvent(this, e);
        },
        deadline: (us) => this.arm(us),
      });
    } finally {
      this.draining = false;
    }
    if (!this.crashed) this.hooks.afterDrain?.(this);
  }

  /** One client packet: to the switch, counted, and into the capture with its O(i) tag. */
  private egress(p: ServicePacket): void {
    this.egressPackets++;
    this.egressSet.add(Buffer.from(p.packet).toString('latin1'));
    if (p.reemitted) this.reemittedPackets.push(p.packet);
    const delivered = this.sw.egress(this, p);
    if (this.vantage !== undefined) {
      const dropped = delivered ? [] : [`switch: dropped, epoch ${p.epoch} is older than the owner's ${this.sw.ownerEpoch}`];
      this.vantage.file.write(this.vantage.iface, this.sim.nowUs, p.packet, servicePacketComment(p, dropped));
    }
  }

  private arm(deadlineUs: number | undefined): void {
    if (deadlineUs === this.armedUs) return;
    this.timerGeneration++;
    this.armedUs = deadlineUs;
    if (deadlineUs === undefined) return;
    const generation = this.timerGeneration;
    this.sim.schedule(Math.max(deadlineUs, this.sim.nowUs), {
      kind: 'timer',
      target: `replica ${this.name} (${formatIpv4Addr(this.address)})`,
      run: () => {
        if (generation !== this.timerGeneration || this.crashed || this.replica === undefined) return;
        this.armedUs = undefined;
        this.timerGeneration++;
        this.replica.handleTimeout(this.sim.nowUs);
        this.drain();
      },
    });
  }
}

/** The arbiter host: answers test-and-set requests arriving as UDP datagrams. */
export class ArbiterNode {
  readonly arbiter = new TestAndSetArbiter();
  /** Crashed: requests are lost unanswered. Its flags survive (the embedded arbiter's state file). */
  down = false;
  private ipId = 0;
  constructor(
    network: Network,
    readonly address: Ipv4Addr,
  ) {
    network.attach(address, (_nowUs, bytes) => {
      const d = parseUdp(bytes);
      if (this.down || d === undefined || d.dstPort !== ARBITER_PORT) return;
      const m = decodeArbiter(d.payload);
      if (m === undefined || m.type !== 'request') return;
      const response = this.arbiter.handle(m);
      network.send(address, udpPacket(address, d.src, ARBITER_PORT, d.srcPort, encodeArbiter(response), this.ipId++));
    });
  }
}
