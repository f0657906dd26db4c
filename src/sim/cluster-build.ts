/**
 * Step two of a cluster run (cluster.ts): the world a plan (cluster-plan.ts) is run in.
 * ClusterRun builds, in this order (the order of construction is the order of interface
 * numbers in the captures and of ties in the simulator's queue, so it is part of a run's
 * byte-identical captures): the simulator and the network with its links and scheduled
 * partitions, the capture files and their taps, the switch and the arbiter, replicas a
 * (primary) and b (backup), the client host and its load, then the scheduled kills and
 * the join. It handles the replicas' events (timeline, failover times, the switch
 * announcement after ANNOUNCE_DELAY_US) through the observer (cluster-observe.ts).
 */
import type { UpstreamEvent } from '../proxy/upstream.js';
import type { ReplicaEvent, ReplicaOptions } from '../replica/outbox.js';
import { Replica } from '../replica/replica.js';
import { describeRsmConfig, LOG_PORT } from '../replica/replay-input.js';
import { describeControlPacket } from '../replica/describe.js';
import { stackFactory as defaultRsmFactory } from '../replica/stack-factory.js';
import { Stack } from '../tcp/stack.js';
import { deriveSeed } from '../tcp/seed.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { tcpPayloadLength } from '../wire/udp.js';
import { ClusterCaptures, type CaptureFile, type ClusterCaptureName } from '../pcap/vantage.js';
import { deliverComment, sendFateComment } from './cluster-capture.js';
import { watchClientLink, type ClientLinkTcp } from './client-link.js';
import { ClientLoad } from './cluster-load.js';
import { ArbiterNode, ReplicaNode, Switch } from './cluster-nodes.js';
import { ClusterObserver } from './cluster-observe.js';
import { ANNOUNCE_DELAY_US, CLUSTER_ARBITER, CLUSTER_CLIENT, CLUSTER_REPLICAS, CLUSTER_SERVICE, JOIN_RETRY_US, type ClusterPlan } from './cluster-plan.js';
import { formatUs } from './clock.js';
import { Host } from './host.js';
import { Network } from './network.js';
import { FakeUpstream } from './upstream-fake.js';
import { Simulator } from './world.js';

/** How the run ended: simulator events handled, and when it settled (null: not within maxUs). */
export interface RunOutcome {
  events: number;
  settledUs: number | null;
}

/** A capture file and one of its interfaces. */
interface CaptureIface {
  file: CaptureFile;
  iface: number;
}

export class ClusterRun {
  readonly sim = new Simulator();
  readonly network: Network;
  readonly captures: ClusterCaptures;
  readonly obs: ClusterObserver;
  readonly sw: Switch;
  readonly arbiterNode: ArbiterNode;
  readonly nodes = new Map<string, ReplicaNode>();
  readonly clientHost: Host<Stack>;
  readonly load: ClientLoad;
  /** RSTs and FINs on the client link. */
  readonly clientLink: ClientLinkTcp;
  private readonly clientCap: CaptureIface | undefined;
  /** The log capture's arbiter interface (it carries the kill notes). */
  private readonly arbCap: CaptureIface | undefined;
  private readonly upstreams = new Map<string, FakeUpstream>();
  private armedAfterRelease = false;
  /** crashAtPoint: kill points still to pass before the kill (undefined: not armed). */
  private pointsLeft: number | undefined;
  /** The seeded kill's event has not run yet (a run whose load settled by then is not over before it). */
  private killPending = false;

  constructor(private readonly plan: ClusterPlan) {
    const { options, faults } = plan;
    this.obs = new ClusterObserver(this.sim);
    this.network = new Network(this.sim, deriveSeed(plan.seed, 'network'), { ...faults.clientLink, jitterUs: 0, corrupt: faults.clientLink.corrupt ?? 0 });
    this.captures = new ClusterCaptures(options.capture ?? 'memory');
    this.buildLinks();
    const clientFile = this.captures.get('client');
    this.clientCap = clientFile && { file: clientFile, iface: clientFile.iface(`client ${formatIpv4Addr(CLUSTER_CLIENT)}`, 'the clients: their egress before network faults, their ingress after them') };
    this.arbCap = this.tapCaptures();
    this.clientLink = watchClientLink(this.network, CLUSTER_CLIENT);
    this.sw = new Switch(this.network);
    this.network.attach(CLUSTER_SERVICE, (nowUs, bytes) => this.sw.ingress(nowUs, bytes));
    this.arbiterNode = new ArbiterNode(this.network, CLUSTER_ARBITER);
    this.scheduleArbiterOutage();
    this.sw.onOwnerChange = (name, epoch) => {
      this.obs.say(`switch: the service address ${formatIpv4Addr(CLUSTER_SERVICE)} now goes to ${name} (epoch ${epoch})`);
      this.clientCap?.file.note(this.clientCap.iface, `the switch moved ${formatIpv4Addr(CLUSTER_SERVICE)} to replica ${name}, epoch ${epoch}`);
    };
    const a = this.makeNode('a', 'primary');
    const b = this.makeNode('b', 'backup');
    a.start(Replica.primary(this.replicaOptions('a'), 'b', plan.startUs));
    b.start(Replica.backup(this.replicaOptions('b'), 'a', plan.startUs));
    this.obs.watchAccepts(a);
    this.obs.watchAccepts(b);
    this.clientHost = new Host<Stack>(this.sim, this.network, 'client', CLUSTER_CLIENT, new Stack({ addresses: [CLUSTER_CLIENT], seed: deriveSeed(plan.seed, 'client-stack') }));
    this.load = new ClientLoad(this.sim, this.clientHost, plan.load, (port) => this.obs.serverConn.get(port)?.conn);
    this.load.start();
    this.scheduleKill(a, b);
    this.scheduleJoin();
  }

  /** Runs until every stream has settled and every kill has been followed by a go-live (or the time limit). */
  run(): RunOutcome {
    const { faults, options, maxUs } = this.plan;
    const sim = this.sim;
    let events = 0;
    let settledUs: number | null = null;
    try {
      const lastKillUs = Math.max(faults.crashAtUs ?? 0, options.join?.secondCrashAtUs ?? 0);
      const lastFaultUs = Math.max(lastKillUs, options.join?.joinerCrashAtUs ?? 0, faults.arbiterOutage?.toUs ?? 0, faults.logHold?.toUs ?? 0);
      const done = () => this.load.allSettled && sim.nowUs >= lastFaultUs && !this.killPending && !this.armedAfterRelease && this.pointsLeft === undefined && this.obs.failovers.every((f) => f.liveMs !== null);
      const outcome = sim.run({ until: done, untilUs: maxUs, maxEvents: 20_000_000 });
      events += outcome.events;
      if (done()) settledUs = sim.nowUs;
      // Let the closing handshakes finish so the captures show them.
      events += sim.run({ untilUs: Math.min(maxUs, sim.nowUs + 300_000), maxEvents: 2_000_000 }).events;
    } catch (error) {
      this.obs.problem('crash', `threw at ${formatUs(sim.nowUs)} virtual: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    return { events, settledUs };
  }

  /** Replica-to-arbiter and replica-to-replica links, the log partition, the heal. */
  private buildLinks(): void {
    const { faults } = this.plan;
    const network = this.network;
    const names = Object.keys(CLUSTER_REPLICAS);
    for (const x of names) {
      // The control plane's links are clean but for their delay: the faults of the client links are not theirs.
      const clean = { loss: 0, duplicate: 0, reorder: 0, corrupt: 0 };
      network.setLinkPair(CLUSTER_REPLICAS[x]!, CLUSTER_ARBITER, { delayUs: faults.arbiterDelayUs, ...clean });
      for (const y of names) if (x < y) network.setLinkPair(CLUSTER_REPLICAS[x]!, CLUSTER_REPLICAS[y]!, { delayUs: faults.logDelayUs, ...clean });
    }
    if (faults.logPartition !== undefined) network.schedulePartition(CLUSTER_REPLICAS.a!, CLUSTER_REPLICAS.b!, faults.logPartition.fromUs, faults.logPartition.toUs);
    const hold = faults.logHold;
    if (hold !== undefined) {
      network.scheduleHold(CLUSTER_REPLICAS.b!, CLUSTER_REPLICAS.a!, hold.fromUs, hold.toUs);
      if (hold.thenLose === true) network.scheduleCut(CLUSTER_REPLICAS.a!, CLUSTER_REPLICAS.b!, hold.toUs, Math.max(hold.toUs, this.plan.maxUs));
    }
    if (faults.healAtUs === undefined) return;
    this.sim.schedule(faults.healAtUs, {
      kind: 'heal',
      target: 'network',
      run: () => {
        this.obs.say('heal: the safety phase ends; client links lose, duplicate, reorder and corrupt nothing more, the log channel is up');
        network.setLinkPair(CLUSTER_CLIENT, CLUSTER_SERVICE, { loss: 0, duplicate: 0, reorder: 0, corrupt: 0 });
        for (const x of names) for (const y of names) if (x !== y) network.setLinkUp(CLUSTER_REPLICAS[x]!, CLUSTER_REPLICAS[y]!, true);
      },
    });
  }

  /** The network's tap writes the client's view and the control plane (log channel, arbiter); returns the arbiter interface. */
  private tapCaptures(): CaptureIface | undefined {
    const clientCap = this.clientCap;
    const logCap = this.captures.get('log');
    // The RSM config rides in the interface description so that `ftcp replay` can start the
    // replay where every replica started (replay-input.ts); same run, same bytes.
    const logIface = logCap?.iface('log channel', `frames between replicas (UDP ${LOG_PORT}), with a decoded summary as the comment; ${describeRsmConfig({ rsm: this.plan.rsm, startUs: this.plan.startUs })}`);
    const arbIface = logCap?.iface('arbiter', 'test-and-set requests and answers (UDP 47002)');
    const controlAddrs = new Set<Ipv4Addr>([CLUSTER_ARBITER, ...Object.values(CLUSTER_REPLICAS)]);
    this.network.addTap({
      onSend(t) {
        if (clientCap !== undefined && t.from === CLUSTER_CLIENT) clientCap.file.write(clientCap.iface, t.timeUs, t.bytes, sendFateComment(t.fate));
        if (logCap !== undefined && controlAddrs.has(t.from) && controlAddrs.has(t.to)) {
          const d = describeControlPacket(t.bytes);
          const fate = sendFateComment(t.fate);
          const comment = [d.summary, fate].filter((x) => x !== undefined).join('; ');
          logCap.write(d.arbiter ? arbIface! : logIface!, t.timeUs, t.bytes, comment === '' ? undefined : comment);
        }
      },
      onDeliver(t) {
        if (clientCap !== undefined && t.to === CLUSTER_CLIENT && t.copy.corruptedBit === undefined) clientCap.file.write(clientCap.iface, t.timeUs, t.bytes, deliverComment(t.copy));
      },
    });
    return logCap && { file: logCap, iface: arbIface! };
  }

  private scheduleArbiterOutage(): void {
    const outage = this.plan.faults.arbiterOutage;
    if (outage === undefined) return;
    const arbiterNode = this.arbiterNode;
    this.sim.schedule(outage.fromUs, { kind: 'arbiter-down', target: 'arbiter', run: () => {
      arbiterNode.down = true;
      this.obs.say('arbiter: crashes (answers nothing until it restarts)');
    } });
    this.sim.schedule(outage.toUs, { kind: 'arbiter-up', target: 'arbiter', run: () => {
      arbiterNode.down = false;
      this.obs.say(`arbiter: restarts with the ${arbiterNode.arbiter.granted().length} flag(s) it had granted`);
    } });
  }

  private replicaOptions(name: string): ReplicaOptions {
    const { options } = this.plan;
    return {
      name,
      rsm: this.plan.rsm,
      factory: options.stackFactory ?? defaultRsmFactory,
      outputRule: !this.plan.unsafe,
      ...(options.outputMode !== undefined ? { outputMode: options.outputMode } : {}),
      ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(options.failureTimeoutMs !== undefined ? { failureTimeoutMs: options.failureTimeoutMs } : {}),
    };
  }

  private makeNode(name: string, vantageFile: ClusterCaptureName): ReplicaNode {
    const hooks = {
      onEvent: (n: ReplicaNode, e: ReplicaEvent) => this.onEvent(n, e),
      afterTransmit: (n: ReplicaNode, packets: Array<{ packet: Uint8Array; reemitted: boolean }>) => this.afterTransmit(n, packets),
      afterDrain: (n: ReplicaNode) => this.killPoint(n, 'after handling an input'),
      ...(this.plan.options.upstream !== undefined ? { onUpstream: (n: ReplicaNode, e: UpstreamEvent) => this.onUpstream(n, e) } : {}),
    };
    const node = new ReplicaNode(this.sim, this.network, this.sw, name, CLUSTER_REPLICAS[name]!, CLUSTER_ARBITER, (peer) => CLUSTER_REPLICAS[peer], hooks);
    const file = this.captures.get(vantageFile);
    if (file !== undefined) {
      node.vantage = { file, iface: file.iface(`replica ${name} ${formatIpv4Addr(CLUSTER_REPLICAS[name]!)}`, `client packets replica ${name} put on the wire (as ${formatIpv4Addr(CLUSTER_SERVICE)}) and received from the switch`) };
    }
    const shadowFile = this.captures.get('shadow');
    if (shadowFile !== undefined && name !== 'a') {
      node.shadowVantage = { file: shadowFile, iface: shadowFile.iface(`shadow of ${name}`, `O(i) replica ${name} generated while a backup (suppressed)`) };
    }
    this.nodes.set(name, node);
    return node;
  }

  private kill(node: ReplicaNode, why: string): void {
    if (node.crashed) return;
    const wasLive = node.replica?.live === true;
    node.crash();
    this.obs.say(`kill: replica ${node.name} crashes (${why})`);
    // The killed replica writes no more packets to carry the note: the next arbiter request does.
    this.arbCap?.file.note(this.arbCap.iface, `replica ${node.name} was killed at ${formatUs(this.sim.nowUs)} (${why})`);
    this.clientCap?.file.note(this.clientCap.iface, `replica ${node.name}${wasLive ? ' (the primary)' : ''} was killed`);
    // Only the kill of a live replica calls for a failover (a fenced or stopped one serves nobody).
    if (wasLive) this.obs.killedLive(node.name);
  }

  private onEvent(node: ReplicaNode, e: ReplicaEvent): void {
    const { obs, sim } = this;
    switch (e.type) {
      case 'announce':
        obs.say(`${node.name}: announces the service address, epoch ${e.epoch}`);
        sim.schedule(sim.nowUs + ANNOUNCE_DELAY_US, { kind: 'announce', target: 'switch', run: () => this.sw.announce(node.name, e.epoch) });
        return;
      case 'suspect': {
        obs.say(`${node.name}: peer silent for ${formatUs(e.silentUs)}, asks the arbiter for epoch ${e.epoch}`);
        const f = obs.openFailover();
        if (f !== undefined && f.detectedMs === null && f.killed !== node.name) f.detectedMs = obs.ms(f.killUs);
        return;
      }
      case 'won':
        obs.say(`${node.name}: won the test-and-set of epoch ${e.epoch}`);
        return;
      case 'lost':
        obs.say(`${node.name}: lost the test-and-set of epoch ${e.epoch} to ${e.winner}: ${node.replica?.roleName === 'fenced' ? 'fenced, emits nothing more' : 'stops'}`);
        node.vantage?.file.note(node.vantage.iface, `replica ${node.name} lost epoch ${e.epoch} to ${e.winner}`);
        return;
      case 'live': {
        obs.say(`${node.name}: LIVE in epoch ${e.epoch}; re-emits ${e.reemitted} packets of ${e.reemittedEntries} entries above r = ${e.r} (last index ${e.lastIndex})`);
        node.vantage?.file.note(node.vantage.iface, `replica ${node.name} goes live in epoch ${e.epoch}, r = ${e.r}, re-emitting ${e.reemitted} packets`);
        obs.onLive?.(node);
        const f = obs.openFailover();
        if (f !== undefined) {
          f.liveMs = obs.ms(f.killUs);
          f.by = node.name;
          f.epoch = e.epoch;
          f.reemitted += e.reemitted;
          f.goLive ??= { r: e.r, lastIndex: e.lastIndex, reemitted: e.reemitted, reemittedEntries: e.reemittedEntries };
          this.load.watchReads((nowUs) => {
            f.clientResumedMs = Math.round((nowUs - f.killUs) / 10) / 100;
            obs.say('client: reads new bytes again (resumed)');
          });
        }
        return;
      }
      case 'backup-joined':
        obs.say(`${node.name}: new backup ${e.peer} joins at index ${e.index} (snapshot ${e.snapshotBytes} bytes), epoch ${e.epoch}`);
        return;
      case 'joined':
        obs.say(`${node.name}: restored the snapshot at index ${e.index}, following in epoch ${e.epoch}`);
        obs.watchAccepts(node);
        return;
      case 'fault':
        obs.replicationFaults.push(`${node.name}: ${e.message}`);
        obs.problem('correctness', `${node.name}: ${e.message}`);
        obs.say(`${node.name}: REPLICATION FAULT: ${e.message}`);
        return;
      case 'divergence':
        obs.divergences.push({ replica: node.name, conn: e.conn, offset: e.offset, what: e.what });
        obs.say(`${node.name}: DIVERGENCE on connection ${e.conn} at offset ${e.offset}: ${e.what}`);
        return;
      case 'shadow':
      case 'rejected':
        return;
    }
  }

  /** Upstream app runs: each replica's own fake app instance, made on first use. */
  private onUpstream(node: ReplicaNode, e: UpstreamEvent): void {
    const sim = this.sim;
    let fake = this.upstreams.get(node.name);
    if (fake === undefined) {
      fake = new FakeUpstream(
        {
          name: node.name,
          get alive() {
            return !node.crashed;
          },
          schedule: (atUs, run) => sim.schedule(atUs, { kind: 'upstream', target: `upstream app of ${node.name}`, run: () => run(sim.nowUs) }),
          report: (nowUs, conn, action) => {
            if (node.crashed) return;
            node.replica?.handleUpstream(nowUs, conn, action);
            node.drain();
          },
        },
        this.plan.options.upstream!,
      );
      this.upstreams.set(node.name, fake);
    }
    fake.handle(sim.nowUs, e);
  }

  /** The forced kill (crashAfterRelease): the owner has just released data to a client. */
  private afterTransmit(node: ReplicaNode, packets: Array<{ packet: Uint8Array; reemitted: boolean }>): void {
    this.killPoint(node, 'just after releasing packets, before telling the backup r');
    if (!this.armedAfterRelease || node.name !== this.sw.owner) return;
    if (!packets.some((p) => !p.reemitted && tcpPayloadLength(p.packet) > 0)) return;
    this.armedAfterRelease = false;
    this.kill(node, 'just after releasing data, before telling the backup r');
  }

  /** crashAtPoint: one more kill point of replica a passed; the kill at the planned one. */
  private killPoint(node: ReplicaNode, what: string): void {
    if (this.pointsLeft === undefined || node.name !== 'a' || node.crashed) return;
    if (--this.pointsLeft > 0) return;
    this.pointsLeft = undefined;
    this.kill(node, `kill point ${this.plan.options.crashAtPoint} from ${formatUs(this.plan.faults.crashAtUs!)}: ${what}`);
  }

  /** The seeded kill: of the primary, of the backup (killBackup), or armed for the moment after a release. */
  private scheduleKill(a: ReplicaNode, b: ReplicaNode): void {
    const { options, faults } = this.plan;
    if (faults.crashAtUs === undefined) return;
    const at = faults.crashAtUs;
    this.killPending = true;
    this.sim.schedule(at, {
      kind: 'kill',
      target: 'replica a',
      run: () => {
        this.killPending = false;
        if (options.killBackup) this.kill(b, `seeded kill of the backup at ${formatUs(at)}`);
        else if (options.crashAfterRelease) this.armedAfterRelease = true;
        else if (options.crashAtPoint !== undefined && options.crashAtPoint > 0) this.pointsLeft = options.crashAtPoint;
        else this.kill(a, `seeded kill at ${formatUs(at)}`);
      },
    });
  }

  /** Replica c joins the live replica; then, as planned, the live replica and c are killed. */
  private scheduleJoin(): void {
    const join = this.plan.options.join;
    if (join === undefined) return;
    const { atUs, secondCrashAtUs, joinerCrashAtUs } = join;
    const { sim, nodes } = this;
    // c joins a live replica: while none is live (a failover still under way), it tries again a little later.
    const startJoiner = () => {
      const primary = [...nodes.values()].find((n) => !n.crashed && n.replica?.live === true);
      if (primary === undefined) {
        sim.schedule(sim.nowUs + JOIN_RETRY_US, { kind: 'join', target: 'replica c', run: startJoiner });
        return;
      }
      this.obs.say(`c: starts and asks ${primary.name} to join`);
      const c = this.makeNode('c', 'backup');
      c.start(Replica.joiner(this.replicaOptions('c'), primary.name, sim.nowUs));
    };
    sim.schedule(atUs, { kind: 'join', target: 'replica c', run: startJoiner });
    if (secondCrashAtUs !== undefined) {
      // The second kill is of a pair that has finished joining: it waits until c follows.
      const secondKill = () => {
        const c = nodes.get('c');
        if (c === undefined || (!c.crashed && c.replica?.roleName === 'joining')) {
          sim.schedule(sim.nowUs + JOIN_RETRY_US, { kind: 'kill', target: 'the live replica', run: secondKill });
          return;
        }
        if (c.crashed || c.replica?.roleName !== 'backup') {
          // Killing a lone primary is an outage, not a failover: nothing to test.
          this.obs.say(`second kill skipped: c is ${c.crashed ? 'dead' : (c.replica?.roleName ?? 'not started')}, the live replica has no backup`);
          return;
        }
        const owner = this.sw.owner === undefined ? undefined : nodes.get(this.sw.owner);
        if (owner !== undefined) this.kill(owner, `second kill at ${formatUs(sim.nowUs)}`);
      };
      sim.schedule(secondCrashAtUs, { kind: 'kill', target: 'the live replica', run: secondKill });
    }
    if (joinerCrashAtUs !== undefined) {
      sim.schedule(joinerCrashAtUs, {
        kind: 'kill',
        target: 'replica c',
        run: () => {
          const c = nodes.get('c');
          if (c !== undefined) this.kill(c, `kill of the joining backup at ${formatUs(joinerCrashAtUs)}`);
        },
      });
    }
  }
}
