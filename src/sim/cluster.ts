/**
 * A cluster run (DESIGN.md, "The replicated state machine", "Testing"): clients, the
 * switch, a primary, a backup, the arbiter, faults, all from one seed.
 *
 *   client 192.0.2.1 --(lossy links)--> switch [192.0.2.10] --> the replica owning the address
 *   replica a 192.0.2.11 (primary)  <--log channel-->  replica b 192.0.2.12 (backup)
 *   arbiter 192.0.2.2 (test-and-set);  replica c 192.0.2.13 joins later in some runs
 *
 * The primary is killed at a seeded moment. The run checks every client stream byte for
 * byte, counts resets, checks that no epoch had two live replicas, and measures the
 * failover from the kill: when the backup suspected it, went live, and when the client
 * first read new bytes. Everything is written to pcapng captures (client, primary, backup,
 * shadow, log) with events as packet comments. The same seed gives byte-identical captures.
 */
import type { AppName, BulkApp } from '../proxy/app.js';
import type { UpstreamEvent } from '../proxy/upstream.js';
import type { ReplicaEvent } from '../replica/outbox.js';
import { Replica } from '../replica/replica.js';
import { describeRsmConfig } from '../replica/replay-input.js';
import type { RsmConfig, RsmStackFactory } from '../replica/rsm.js';
import { stackFactory as defaultRsmFactory } from '../replica/stack-factory.js';
import { Prng } from '../tcp/prng.js';
import { Stack } from '../tcp/stack.js';
import { formatIpv4Addr, parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { ClusterCaptures, type ClusterCaptureMode, type ClusterCaptureName } from '../pcap/vantage.js';
import { deliverComment, sendFateComment } from './cluster-capture.js';
import { describeControlPacket } from '../replica/describe.js';
import { ClientLoad, type ConnResult, type LoadApp, type LoadOptions } from './cluster-load.js';
import { ArbiterNode, ReplicaNode, Switch } from './cluster-nodes.js';
import { tcpPayloadLength } from '../wire/udp.js';
import { LOG_PORT } from '../replica/replay-input.js';
import { formatUs } from './clock.js';
import { Host } from './host.js';
import { Network, type FaultCounters, type LinkParams } from './network.js';
import { deriveSeed } from '../tcp/seed.js';
import { FakeUpstream, type FakeUpstreamOptions } from './upstream-fake.js';
import { Simulator } from './world.js';
import { identicalReemitted, splitBrainEpochs, streamCounts } from '../replica/run-checks.js';

export const CLUSTER_CLIENT = parseIpv4Addr('192.0.2.1');
export const CLUSTER_ARBITER = parseIpv4Addr('192.0.2.2');
export const CLUSTER_SERVICE = parseIpv4Addr('192.0.2.10');
export const CLUSTER_REPLICAS: Record<string, Ipv4Addr> = {
  a: parseIpv4Addr('192.0.2.11'),
  b: parseIpv4Addr('192.0.2.12'),
  c: parseIpv4Addr('192.0.2.13'),
};
/** Not a port Wireshark dissects as some protocol (7000 decodes as "gryphon" and shows malformed packets). */
export const CLUSTER_SERVICE_PORT = 7070;
/** The switch learns an announcement this long after it is made (the gratuitous ARP's flight). */
const ANNOUNCE_DELAY_US = 200;
/** A join (or the kill that waits for it) that finds no live replica (or a joiner still catching up) tries again this much later. */
const JOIN_RETRY_US = 20_000;

/** Every fault of a run, derived from its seed (planFaults) and overridable piece by piece. */
export interface FaultPlan {
  /** Both directions between the client and the service (whichever replica serves it). */
  clientLink: Pick<LinkParams, 'delayUs' | 'loss' | 'duplicate' | 'reorder' | 'reorderDelayUs'> & { corrupt?: number };
  /** One-way delay of the log channel between replicas. */
  logDelayUs: number;
  /** The log channel between a and b is down during [fromUs, toUs). */
  logPartition?: { fromUs: number; toUs: number };
  /** One-way delay between a replica and the arbiter (a slow arbiter: tens of ms). */
  arbiterDelayUs: number;
  /** When the primary is killed; undefined: never. */
  crashAtUs?: number;
  /** The arbiter is down (crashed) during [fromUs, toUs) and answers nothing; it restarts with the flags it had granted (its state file). */
  arbiterOutage?: { fromUs: number; toUs: number };
  /**
   * The end of the safety phase (TigerBeetle's VOPR): from here the client links carry no
   * more faults and the log channel is up; the run must converge (every stream settled)
   * before `maxUs`.
   */
  healAtUs?: number;
}

export interface ClusterOptions {
  seed: number;
  /** The built-in app and the load's protocol; 'http' only with `upstream`. */
  app: LoadApp;
  connections: number;
  /** Fault plan overrides; the rest comes from planFaults(seed). */
  faults?: Partial<FaultPlan>;
  /** No kill at all (the seeded crash time is ignored). */
  noCrash?: boolean;
  /**
   * Kill the primary at the first moment at or after the crash time when it has just
   * released data to a client and not yet told the backup (r is stale): the backup must
   * re-emit segments the client already has.
   */
  crashAfterRelease?: boolean;
  /**
   * Replica c joins the live replica at `atUs`; the live replica is killed at
   * `secondCrashAtUs`; c itself is killed at `joinerCrashAtUs` (a crash during or after the join).
   */
  join?: { atUs: number; secondCrashAtUs?: number; joinerCrashAtUs?: number };
  /** Kill the backup instead of the primary at the crash time (the primary must win the arbiter and serve alone). */
  killBackup?: boolean;
  /** The unsafe teaching mode: no output rule (and a log partition just before the kill, so it shows). */
  unsafeNoOutputRule?: boolean;
  heartbeatMs?: number;
  failureTimeoutMs?: number;
  digestEvery?: number;
  /** Load shape overrides. */
  load?: Partial<Omit<LoadOptions, 'app' | 'connections' | 'seed' | 'service' | 'port' | 'bulkSeed'>>;
  /** Virtual time limit. Default 30 s. */
  maxUs?: number;
  capture?: ClusterCaptureMode;
  stackFactory?: RsmStackFactory;
  /**
   * the service is an upstream app outside the RSM, one fake instance per replica
   * (src/sim/upstream-fake.ts); `app` is then the client load's protocol (echo, counter, kv).
   */
  upstream?: FakeUpstreamOptions;
}

/** A divergence a replica found between its own upstream app and the log. */
export interface ClusterDivergence {
  replica: string;
  conn: number;
  offset: number;
  what: string;
}

export interface FailoverReport {
  /** The replica that was killed, and the one that took over. */
  killed: string;
  by: string | undefined;
  killUs: number;
  /** From the kill: the survivor suspected, went live, and the client first read new bytes. null = never. */
  detectedMs: number | null;
  liveMs: number | null;
  clientResumedMs: number | null;
  /** Epoch the survivor went live in. */
  epoch: number | null;
  reemitted: number;
  identicalToPrimary: number;
}

export type ClusterFailureKind = 'correctness' | 'liveness' | 'connection' | 'crash';

export interface ClusterResult {
  ok: boolean;
  failure?: { kind: ClusterFailureKind; message: string };
  problems: string[];
  seed: number;
  app: LoadApp;
  connections: number;
  unsafe: boolean;
  streams: { intact: number; broken: number };
  resets: number;
  failover: FailoverReport | null;
  failovers: FailoverReport[];
  reemitted: { segments: number; identicalToPrimary: number };
  client: { duplicateSegmentsDropped: number; retransmits: number };
  splitBrain: number;
  replicationFaults: string[];
  conns: ConnResult[];
  counterAnswers?: { count: number; consecutive: boolean };
  plan: FaultPlan;
  network: FaultCounters;
  switch: { blackholed: number; droppedStale: number };
  timeline: Array<{ timeUs: number; text: string }>;
  endUs: number;
  /** When every stream had settled and every kill had been answered by a go-live; null: not within maxUs. */
  settledUs: number | null;
  events: number;
  /** In-memory captures (capture mode 'memory'). */
  captures: Partial<Record<ClusterCaptureName, Uint8Array>>;
  command: string;
  /** Upstream app runs only: divergences found by any replica (connection, offset), and the first ones. */
  divergences?: number;
  divergenceList?: ClusterDivergence[];
  /** Upstream app runs only: bytes the survivor's own app continued the streams with at go-live. */
  upstreamContinuedBytes?: number;
}

/** The seeded fault plan of a run. */
export function planFaults(seed: number): FaultPlan {
  const rng = new Prng(deriveSeed(seed, 'faults'));
  const clientLink = {
    delayUs: 5_000 + rng.below(10_001),
    loss: rng.below(31) / 1000,
    duplicate: rng.below(21) / 1000,
    reorder: rng.below(31) / 1000,
    reorderDelayUs: 5_000 + rng.below(15_001),
  };
  const logDelayUs = 200 + rng.below(1_801);
  const arbiterDelayUs = rng.below(4) === 0 ? 20_000 + rng.below(130_001) : 300 + rng.below(1_701);
  const crashAtUs = 150_000 + rng.below(500_001);
  const plan: FaultPlan = { clientLink, logDelayUs, arbiterDelayUs, crashAtUs };
  const kind = rng.below(100);
  // Partitions stay shorter than the failure timeout while both replicas live (a longer one
  // is a failover of its own, tested separately), or start just before the kill.
  if (kind >= 60 && kind < 80) {
    const fromUs = 20_000 + rng.below(crashAtUs + 100_000 - 20_000);
    plan.logPartition = { fromUs, toUs: fromUs + 5_000 + rng.below(15_001) };
  } else if (kind >= 80) {
    const fromUs = crashAtUs - 5_000 - rng.below(25_001);
    plan.logPartition = { fromUs, toUs: crashAtUs + 1_000_000 };
  }
  return plan;
}

/** The command that reproduces a run. */
export function clusterCommandLine(o: Pick<ClusterOptions, 'seed' | 'app' | 'connections' | 'unsafeNoOutputRule'>): string {
  return `ftcp demo failover --sim --seed ${o.seed} --app ${o.app} --connections ${o.connections}${o.unsafeNoOutputRule ? ' --unsafe-no-output-rule' : ''}`;
}

export function runCluster(options: ClusterOptions): ClusterResult {
  const { seed, app, connections } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`seed must be a u32, got ${seed}`);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1000) throw new RangeError(`connections must be 1..1000, got ${connections}`);
  if (options.upstream !== undefined && app === 'bulk') throw new RangeError('an upstream app run needs a request/response load: echo, counter, kv or http');
  if (options.upstream === undefined && app === 'http') throw new RangeError("the 'http' load needs an upstream app (options.upstream)");
  const unsafe = options.unsafeNoOutputRule === true;
  const plan: FaultPlan = { ...planFaults(seed), ...options.faults };
  if (options.noCrash) delete plan.crashAtUs;
  if (unsafe && plan.crashAtUs !== undefined && options.faults?.logPartition === undefined) {
    // So the teaching mode shows its failure: the last entries before the kill never reach the backup.
    plan.logPartition = { fromUs: Math.max(0, plan.crashAtUs - 30_000), toUs: plan.crashAtUs + 1_000_000 };
  }
  // An unsafe run that breaks can leave two desynchronised stacks exchanging ACKs: bound it sooner.
  const maxUs = options.maxUs ?? (unsafe ? 5_000_000 : 30_000_000);

  const sim = new Simulator();
  const network = new Network(sim, deriveSeed(seed, 'network'), { ...plan.clientLink, jitterUs: 0, corrupt: plan.clientLink.corrupt ?? 0 });
  const captures = new ClusterCaptures(options.capture ?? 'memory');
  const timeline: Array<{ timeUs: number; text: string }> = [];
  const problems: Array<{ kind: ClusterFailureKind; message: string }> = [];
  const say = (text: string) => timeline.push({ timeUs: sim.nowUs, text });
  const problem = (kind: ClusterFailureKind, message: string) => problems.push({ kind, message });

  // ---- links
  const names = Object.keys(CLUSTER_REPLICAS);
  for (const x of names) {
    // The control plane's links are clean but for their delay: the faults of the client links are not theirs.
    const clean = { loss: 0, duplicate: 0, reorder: 0, corrupt: 0 };
    network.setLinkPair(CLUSTER_REPLICAS[x]!, CLUSTER_ARBITER, { delayUs: plan.arbiterDelayUs, ...clean });
    for (const y of names) if (x < y) network.setLinkPair(CLUSTER_REPLICAS[x]!, CLUSTER_REPLICAS[y]!, { delayUs: plan.logDelayUs, ...clean });
  }
  if (plan.logPartition !== undefined) network.schedulePartition(CLUSTER_REPLICAS.a!, CLUSTER_REPLICAS.b!, plan.logPartition.fromUs, plan.logPartition.toUs);
  if (plan.healAtUs !== undefined) {
    sim.schedule(plan.healAtUs, {
      kind: 'heal',
      target: 'network',
      run: () => {
        say('heal: the safety phase ends; client links lose, duplicate, reorder and corrupt nothing more, the log channel is up');
        network.setLinkPair(CLUSTER_CLIENT, CLUSTER_SERVICE, { loss: 0, duplicate: 0, reorder: 0, corrupt: 0 });
        for (const x of names) for (const y of names) if (x !== y) network.setLinkUp(CLUSTER_REPLICAS[x]!, CLUSTER_REPLICAS[y]!, true);
      },
    });
  }

  // ---- captures of the client side and of the control plane
  const clientCap = captures.get('client');
  const clientIface = clientCap?.iface(`client ${formatIpv4Addr(CLUSTER_CLIENT)}`, 'the clients: their egress before network faults, their ingress after them');
  const rsmConfig: RsmConfig = {
    stack: { addresses: [CLUSTER_SERVICE], seed: deriveSeed(seed, 'service-stack') },
    servicePort: CLUSTER_SERVICE_PORT,
    app: options.upstream !== undefined ? 'upstream' : (app as AppName),
    appOptions: { bulkBytes: options.load?.bulkBytes ?? 400_000, seed: deriveSeed(seed, 'bulk') },
    digestEvery: options.digestEvery ?? 1024,
  };
  const startUs = 0;
  const logCap = captures.get('log');
  // The RSM config rides in the interface description so that `ftcp replay` can start the
  // replay where every replica started (replay-input.ts); same run, same bytes.
  const logIface = logCap?.iface('log channel', `frames between replicas (UDP ${LOG_PORT}), with a decoded summary as the comment; ${describeRsmConfig({ rsm: rsmConfig, startUs })}`);
  const arbIface = logCap?.iface('arbiter', 'test-and-set requests and answers (UDP 47002)');
  const controlAddrs = new Set<Ipv4Addr>([CLUSTER_ARBITER, ...Object.values(CLUSTER_REPLICAS)]);
  network.addTap({
    onSend(t) {
      if (clientCap !== undefined && t.from === CLUSTER_CLIENT) clientCap.write(clientIface!, t.timeUs, t.bytes, sendFateComment(t.fate));
      if (logCap !== undefined && controlAddrs.has(t.from) && controlAddrs.has(t.to)) {
        const d = describeControlPacket(t.bytes);
        const fate = sendFateComment(t.fate);
        const comment = [d.summary, fate].filter((x) => x !== undefined).join('; ');
        logCap.write(d.arbiter ? arbIface! : logIface!, t.timeUs, t.bytes, comment === '' ? undefined : comment);
      }
    },
    onDeliver(t) {
      if (clientCap !== undefined && t.to === CLUSTER_CLIENT && t.copy.corruptedBit === undefined) clientCap.write(clientIface!, t.timeUs, t.bytes, deliverComment(t.copy));
    },
  });

  // ---- switch, arbiter, replicas
  const sw = new Switch(network);
  network.attach(CLUSTER_SERVICE, (nowUs, bytes) => sw.ingress(nowUs, bytes));
  const arbiterNode = new ArbiterNode(network, CLUSTER_ARBITER);
  if (plan.arbiterOutage !== undefined) {
    const { fromUs, toUs } = plan.arbiterOutage;
    sim.schedule(fromUs, { kind: 'arbiter-down', target: 'arbiter', run: () => {
      arbiterNode.down = true;
      say('arbiter: crashes (answers nothing until it restarts)');
    } });
    sim.schedule(toUs, { kind: 'arbiter-up', target: 'arbiter', run: () => {
      arbiterNode.down = false;
      say(`arbiter: restarts with the ${arbiterNode.arbiter.granted().length} flag(s) it had granted`);
    } });
  }
  sw.onOwnerChange = (name, epoch) => {
    say(`switch: the service address ${formatIpv4Addr(CLUSTER_SERVICE)} now goes to ${name} (epoch ${epoch})`);
    if (clientCap !== undefined) clientCap.note(clientIface!, `the switch moved ${formatIpv4Addr(CLUSTER_SERVICE)} to replica ${name}, epoch ${epoch}`);
  };

  const factory = options.stackFactory ?? defaultRsmFactory;
  const replicaOptions = (name: string) => ({
    name,
    rsm: rsmConfig,
    factory,
    outputRule: !unsafe,
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.failureTimeoutMs !== undefined ? { failureTimeoutMs: options.failureTimeoutMs } : {}),
  });

  // Which server connection serves which client port (every replica must agree).
  const serverConn = new Map<number, { conn: number; by: string }>();
  const watchAccepts = (node: ReplicaNode) => {
    const rsm = node.replica?.rsm;
    if (rsm === undefined) return;
    rsm.onAccept = (socket, info) => {
      const seen = serverConn.get(info.remotePort);
      if (seen === undefined) serverConn.set(info.remotePort, { conn: socket, by: node.name });
      else if (seen.conn !== socket) problem('correctness', `replicas disagree on the connection for client port ${info.remotePort}: ${seen.by} has ${seen.conn}, ${node.name} has ${socket}`);
    };
  };

  const failovers: FailoverReport[] = [];
  const replicationFaults: string[] = [];
  const divergences: ClusterDivergence[] = [];
  const upstreams = new Map<string, FakeUpstream>();
  const loadRef: { current?: ClientLoad } = {};
  const nodes = new Map<string, ReplicaNode>();
  const kill = (node: ReplicaNode, why: string) => {
    if (node.crashed) return;
    const wasLive = node.replica?.live === true;
    node.crash();
    say(`kill: replica ${node.name} crashes (${why})`);
    // The killed replica writes no more packets to carry the note: the next arbiter request does.
    if (logCap !== undefined) logCap.note(arbIface!, `replica ${node.name} was killed at ${formatUs(sim.nowUs)} (${why})`);
    clientCap?.note(clientIface!, `replica ${node.name}${wasLive ? ' (the primary)' : ''} was killed`);
    // Only the kill of a live replica calls for a failover (a fenced or stopped one serves nobody).
    if (wasLive) failovers.push({ killed: node.name, by: undefined, killUs: sim.nowUs, detectedMs: null, liveMs: null, clientResumedMs: null, epoch: null, reemitted: 0, identicalToPrimary: 0 });
  };
  const ms = (fromUs: number) => Math.round((sim.nowUs - fromUs) / 10) / 100;
  const openFailover = () => [...failovers].reverse().find((f) => f.liveMs === null);

  let armedAfterRelease = false;
  const onEvent = (node: ReplicaNode, e: ReplicaEvent) => {
    switch (e.type) {
      case 'announce':
        say(`${node.name}: announces the service address, epoch ${e.epoch}`);
        sim.schedule(sim.nowUs + ANNOUNCE_DELAY_US, { kind: 'announce', target: 'switch', run: () => sw.announce(node.name, e.epoch) });
        return;
      case 'suspect': {
        say(`${node.name}: peer silent for ${formatUs(e.silentUs)}, asks the arbiter for epoch ${e.epoch}`);
        const f = openFailover();
        if (f !== undefined && f.detectedMs === null && f.killed !== node.name) f.detectedMs = ms(f.killUs);
        return;
      }
      case 'won':
        say(`${node.name}: won the test-and-set of epoch ${e.epoch}`);
        return;
      case 'lost':
        say(`${node.name}: lost the test-and-set of epoch ${e.epoch} to ${e.winner}: ${node.replica?.roleName === 'fenced' ? 'fenced, emits nothing more' : 'stops'}`);
        node.vantage?.file.note(node.vantage.iface, `replica ${node.name} lost epoch ${e.epoch} to ${e.winner}`);
        return;
      case 'live': {
        say(`${node.name}: LIVE in epoch ${e.epoch}; re-emits ${e.reemitted} packets of ${e.reemittedEntries} entries above r = ${e.r} (last index ${e.lastIndex})`);
        node.vantage?.file.note(node.vantage.iface, `replica ${node.name} goes live in epoch ${e.epoch}, r = ${e.r}, re-emitting ${e.reemitted} packets`);
        const f = openFailover();
        if (f !== undefined) {
          f.liveMs = ms(f.killUs);
          f.by = node.name;
          f.epoch = e.epoch;
          f.reemitted += e.reemitted;
          loadRef.current?.watchReads((nowUs) => {
            f.clientResumedMs = Math.round((nowUs - f.killUs) / 10) / 100;
            say('client: reads new bytes again (resumed)');
          });
        }
        return;
      }
      case 'backup-joined':
        say(`${node.name}: new backup ${e.peer} joins at index ${e.index} (snapshot ${e.snapshotBytes} bytes), epoch ${e.epoch}`);
        return;
      case 'joined':
        say(`${node.name}: restored the snapshot at index ${e.index}, following in epoch ${e.epoch}`);
        watchAccepts(node);
        return;
      case 'fault':
        replicationFaults.push(`${node.name}: ${e.message}`);
        problem('correctness', `${node.name}: ${e.message}`);
        say(`${node.name}: REPLICATION FAULT: ${e.message}`);
        return;
      case 'divergence':
        divergences.push({ replica: node.name, conn: e.conn, offset: e.offset, what: e.what });
        say(`${node.name}: DIVERGENCE on connection ${e.conn} at offset ${e.offset}: ${e.what}`);
        return;
      case 'shadow':
      case 'rejected':
        return;
    }
  };
  const onUpstream = (node: ReplicaNode, e: UpstreamEvent) => {
    let fake = upstreams.get(node.name);
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
        options.upstream!,
      );
      upstreams.set(node.name, fake);
    }
    fake.handle(sim.nowUs, e);
  };
  const afterTransmit = (node: ReplicaNode, packets: Array<{ packet: Uint8Array; reemitted: boolean }>) => {
    if (!armedAfterRelease || node.name !== sw.owner) return;
    if (!packets.some((p) => !p.reemitted && tcpPayloadLength(p.packet) > 0)) return;
    armedAfterRelease = false;
    kill(node, 'just after releasing data, before telling the backup r');
  };
  const addressOf = (name: string) => CLUSTER_REPLICAS[name];
  const makeNode = (name: string, vantageFile: ClusterCaptureName) => {
    const node = new ReplicaNode(sim, network, sw, name, CLUSTER_REPLICAS[name]!, CLUSTER_ARBITER, addressOf, { onEvent, afterTransmit, ...(options.upstream !== undefined ? { onUpstream } : {}) });
    const file = captures.get(vantageFile);
    if (file !== undefined) {
      node.vantage = { file, iface: file.iface(`replica ${name} ${formatIpv4Addr(CLUSTER_REPLICAS[name]!)}`, `client packets replica ${name} put on the wire (as ${formatIpv4Addr(CLUSTER_SERVICE)}) and received from the switch`) };
    }
    const shadowFile = captures.get('shadow');
    if (shadowFile !== undefined && name !== 'a') {
      node.shadowVantage = { file: shadowFile, iface: shadowFile.iface(`shadow of ${name}`, `O(i) replica ${name} generated while a backup (suppressed)`) };
    }
    nodes.set(name, node);
    return node;
  };

  const a = makeNode('a', 'primary');
  const b = makeNode('b', 'backup');
  a.start(Replica.primary(replicaOptions('a'), 'b', startUs));
  b.start(Replica.backup(replicaOptions('b'), 'a', startUs));
  watchAccepts(a);
  watchAccepts(b);

  const clientHost = new Host<Stack>(sim, network, 'client', CLUSTER_CLIENT, new Stack({ addresses: [CLUSTER_CLIENT], seed: deriveSeed(seed, 'client-stack') }));
  const loadOptions: LoadOptions = {
    app,
    connections,
    seed,
    service: CLUSTER_SERVICE,
    port: CLUSTER_SERVICE_PORT,
    requests: options.load?.requests ?? [30, 60],
    thinkUs: options.load?.thinkUs ?? [2_000, 15_000],
    startSpreadUs: options.load?.startSpreadUs ?? 50_000,
    bulkSeed: rsmConfig.appOptions!.seed!,
    bulkBytes: rsmConfig.appOptions!.bulkBytes!,
    uploadBytes: options.load?.uploadBytes ?? [50_000, 150_000],
  };
  const load = new ClientLoad(sim, clientHost, loadOptions, (port) => serverConn.get(port)?.conn);
  loadRef.current = load;
  load.start();

  if (plan.crashAtUs !== undefined) {
    const at = plan.crashAtUs;
    sim.schedule(at, {
      kind: 'kill',
      target: 'replica a',
      run: () => {
        if (options.killBackup) kill(b, `seeded kill of the backup at ${formatUs(at)}`);
        else if (options.crashAfterRelease) armedAfterRelease = true;
        else kill(a, `seeded kill at ${formatUs(at)}`);
      },
    });
  }
  if (options.join !== undefined) {
    const { atUs, secondCrashAtUs, joinerCrashAtUs } = options.join;
    // c joins a live replica: while none is live (a failover still under way), it tries again a little later.
    const startJoiner = () => {
      const primary = [...nodes.values()].find((n) => !n.crashed && n.replica?.live === true);
      if (primary === undefined) {
        sim.schedule(sim.nowUs + JOIN_RETRY_US, { kind: 'join', target: 'replica c', run: startJoiner });
        return;
      }
      say(`c: starts and asks ${primary.name} to join`);
      const c = makeNode('c', 'backup');
      c.start(Replica.joiner(replicaOptions('c'), primary.name, sim.nowUs));
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
          say(`second kill skipped: c is ${c.crashed ? 'dead' : (c.replica?.roleName ?? 'not started')}, the live replica has no backup`);
          return;
        }
        const owner = sw.owner === undefined ? undefined : nodes.get(sw.owner);
        if (owner !== undefined) kill(owner, `second kill at ${formatUs(sim.nowUs)}`);
      };
      sim.schedule(secondCrashAtUs, { kind: 'kill', target: 'the live replica', run: secondKill });
    }
    if (joinerCrashAtUs !== undefined) {
      sim.schedule(joinerCrashAtUs, {
        kind: 'kill',
        target: 'replica c',
        run: () => {
          const c = nodes.get('c');
          if (c !== undefined) kill(c, `kill of the joining backup at ${formatUs(joinerCrashAtUs)}`);
        },
      });
    }
  }

  let events = 0;
  let settledUs: number | null = null;
  try {
    // Done when every stream has settled and every kill has been followed by a go-live (or the time limit).
    const lastKillUs = Math.max(plan.crashAtUs ?? 0, options.join?.secondCrashAtUs ?? 0);
    const lastFaultUs = Math.max(lastKillUs, options.join?.joinerCrashAtUs ?? 0, plan.arbiterOutage?.toUs ?? 0);
    const done = () => load.allSettled && sim.nowUs >= lastFaultUs && !armedAfterRelease && failovers.every((f) => f.liveMs !== null);
    const outcome = sim.run({ until: done, untilUs: maxUs, maxEvents: 20_000_000 });
    events += outcome.events;
    if (done()) settledUs = sim.nowUs;
    // Let the closing handshakes finish so the captures show them.
    events += sim.run({ untilUs: Math.min(maxUs, sim.nowUs + 300_000), maxEvents: 2_000_000 }).events;
  } catch (error) {
    problem('crash', `threw at ${formatUs(sim.nowUs)} virtual: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }

  // ---- verdicts
  const conns = load.results();
  for (const c of conns) if (!c.intact) problem(c.reset ? 'connection' : c.error?.startsWith('stalled') ? 'liveness' : 'correctness', `connection ${c.index} (client port ${c.localPort ?? '?'}): ${c.error ?? 'not intact'}`);
  const streams = streamCounts(conns);
  const resets = conns.filter((c) => c.reset).length;
  const splitEpochs = splitBrainEpochs(sw.emittersByEpoch);
  if (splitEpochs.length > 0) problem('correctness', `split brain: two replicas emitted client packets in epoch(s) ${splitEpochs.join(', ')}`);
  let counterAnswers: ClusterResult['counterAnswers'];
  if (app === 'counter') {
    const sorted = [...load.counterAnswers].sort((x, y) => x - y);
    const consecutive = sorted.every((v, i) => v === i + 1);
    counterAnswers = { count: sorted.length, consecutive };
    if (!consecutive) problem('correctness', `counter: the answers are not exactly 1..${sorted.length} (first anomaly near ${sorted.find((v, i) => v !== i + 1)})`);
  }
  const liveNode = [...nodes.values()].find((n) => !n.crashed && n.replica?.live === true);
  if (app === 'bulk' && liveNode !== undefined) {
    const bulk = liveNode.replica!.rsm!.appState as BulkApp;
    for (const u of load.uploads()) {
      const conn = u.localPort === undefined ? undefined : serverConn.get(u.localPort)?.conn;
      const got = conn === undefined ? undefined : bulk.uploadDigest(conn);
      if (conns[u.index]!.intact && (got === undefined || got.sha256 !== u.sha256 || got.received !== u.bytes)) {
        problem('correctness', `bulk: connection ${u.index} uploaded ${u.bytes} bytes (sha256 ${u.sha256}) but the server app has ${got ? `${got.received} bytes (sha256 ${got.sha256})` : 'no digest'}`);
      }
    }
  }
  for (const f of failovers) {
    if (f.liveMs === null) problem('liveness', `replica ${f.killed} was killed at ${formatUs(f.killUs)} and nobody went live`);
  }
  if (options.crashAfterRelease && failovers.length === 0) problem('liveness', 'the forced kill never found a moment just after a release');
  // Re-emitted segments compared byte for byte with what the old primary put on the wire.
  for (const f of failovers) {
    const killed = nodes.get(f.killed);
    const survivor = f.by === undefined ? undefined : nodes.get(f.by);
    if (killed === undefined || survivor === undefined) continue;
    f.identicalToPrimary = identicalReemitted(killed.egressSet, survivor.reemittedPackets);
  }
  const clientStats = clientHost.stack.stats();
  const ordered = problems;
  const result: ClusterResult = {
    ok: ordered.length === 0,
    problems: ordered.map((p) => p.message),
    seed,
    app,
    connections,
    unsafe,
    streams,
    resets,
    failover: failovers[0] ?? null,
    failovers,
    reemitted: { segments: failovers.reduce((n, f) => n + f.reemitted, 0), identicalToPrimary: failovers.reduce((n, f) => n + f.identicalToPrimary, 0) },
    client: { duplicateSegmentsDropped: clientStats.duplicateSegments, retransmits: clientStats.retransmits },
    splitBrain: splitEpochs.length,
    replicationFaults,
    conns,
    plan,
    network: network.counters(),
    switch: { blackholed: sw.blackholed, droppedStale: sw.droppedStale },
    timeline,
    endUs: sim.nowUs,
    settledUs,
    events,
    captures: captures.bytes(),
    command: clusterCommandLine(options),
  };
  if (counterAnswers !== undefined) result.counterAnswers = counterAnswers;
  if (options.upstream !== undefined) {
    result.divergences = divergences.length;
    result.divergenceList = divergences.slice(0, 20);
    result.upstreamContinuedBytes = [...nodes.values()].reduce((n, x) => n + (x.replica?.counters.upstreamContinuedBytes ?? 0), 0);
  }
  if (ordered.length > 0) result.failure = ordered[0]!;
  void arbiterNode;
  return result;
}
