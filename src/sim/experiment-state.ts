/**
 * `ftcp experiment state-transfer`: replicating operations (the log, as every ftcp pair
 * does) against shipping state (checkpoints of the whole replicated state machine, stack
 * and app, every C ms, as Remus and COLO do), on the workloads of `experiment modes`.
 *
 * One run is one method on one workload and seed, in virtual time:
 *
 *   lone        one server, no replication: the baseline.
 *   log         the ordinary pair (cluster-build.ts) under the output rule, no kill. Shipped:
 *               the log channel's payload from the primary to the backup.
 *   checkpoint  one server that holds every packet it emits; every C ms it snapshots its
 *               RSM (Rsm.snapshot: the stack with its buffers, timers and PRNG, and the app)
 *               and ships it; when the backup's ack is back (one log round trip later) the
 *               output held before that checkpoint is released. Shipped two ways: the whole
 *               snapshot, and only the 4 KiB pages of it that changed since the last one (what
 *               Remus ships: dirty pages). The backup applies the pages to its image; at the
 *               end the image must restore to the primary's state (same digest).
 *
 * The client, its link faults and the log channel's delay come from the seed, the same for
 * every method. Links have delay but no bandwidth limit, for the log and the checkpoints
 * alike: bytes shipped are counted, not charged in time. CPU is measured outside (the lab),
 * through the simulator's task meter, on the servers' tasks only (isServerTask).
 */
import { Rsm } from '../replica/rsm.js';
import type { LogEntry } from '../replica/log.js';
import { LOG_PORT } from '../replica/replay-input.js';
import { stackFactory } from '../replica/stack-factory.js';
import { deriveSeed } from '../tcp/seed.js';
import { Stack } from '../tcp/stack.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { parseUdp } from '../wire/udp.js';
import { ClusterRun } from './cluster-build.js';
import { ClientLoad } from './cluster-load.js';
import { CLUSTER_CLIENT, CLUSTER_REPLICAS, CLUSTER_SERVICE, planCluster, type ClusterPlan } from './cluster-plan.js';
import { modesClusterOptions, type ModesWorkload } from './experiment-modes.js';
import { Host } from './host.js';
import { Network } from './network.js';
import { Simulator, type SimTask } from './world.js';

export type StateMethod = { kind: 'lone' } | { kind: 'log' } | { kind: 'checkpoint'; intervalUs: number };

/** Remus ships the pages dirtied since the last checkpoint; the snapshot's bytes are cut into pages of this size. */
export const PAGE_BYTES = 4096;

/** What one run measured. */
export interface StateRunFigures {
  method: string;
  workload: ModesWorkload;
  seed: number;
  /** Payload accepted in order: by the client, and by the server. */
  clientBytes: number;
  /** Bytes from the primary to the backup: the log's payload, or every whole checkpoint. */
  shippedBytes: number;
  /** Checkpoints only: the changed pages (and 8 bytes of page number and length each). */
  shippedDirtyBytes?: number;
  checkpoints?: number;
  /** Request latencies (µs), request/response workloads only. */
  latenciesUs: number[];
  /** Virtual time until every stream settled. */
  durationUs: number;
  /** Every client stream was exactly the expected bytes. */
  streamsIntact: boolean;
  /** Checkpoints only: the backup's image restored to the primary's state (its digest) at the last checkpoint. */
  backupConsistent?: boolean;
}

export function stateMethodName(m: StateMethod): string {
  return m.kind === 'checkpoint' ? `checkpoint ${m.intervalUs / 1000} ms` : m.kind;
}

/** The simulator's wrapper of every task (Simulator.meter): how the lab measures CPU. */
export type TaskMeter = (task: SimTask, run: () => void) => void;

const SERVER_TARGETS = new Set([...Object.values(CLUSTER_REPLICAS), CLUSTER_SERVICE].map((a) => formatIpv4Addr(a)));
/**
 * True for a task that is the servers' work: a packet delivered to the service address or to
 * a replica (log frames included), a replica's timer, the checkpointing server's timers and
 * checkpoints. Not the client's, the arbiter's, or the network's scheduling.
 */
export function isServerTask(task: SimTask): boolean {
  return SERVER_TARGETS.has(task.target) || task.target.startsWith('replica ') || task.target === CHECKPOINT_TARGET;
}
const CHECKPOINT_TARGET = 'checkpointing server';

/** One run; deterministic, whatever `meter` measures. */
export function runStateMethod(workload: ModesWorkload, seed: number, method: StateMethod, meter?: TaskMeter): StateRunFigures {
  const plan = planCluster({ ...modesClusterOptions(workload, 'output-rule', seed), noCrash: true });
  return method.kind === 'log' ? logRun(plan, workload, meter) : checkpointRun(plan, workload, method.kind === 'lone' ? 0 : method.intervalUs, meter);
}

function logRun(plan: ClusterPlan, workload: ModesWorkload, meter: TaskMeter | undefined): StateRunFigures {
  const run = new ClusterRun(plan);
  run.sim.meter = meter;
  const a = CLUSTER_REPLICAS.a!;
  const b = CLUSTER_REPLICAS.b!;
  let shipped = 0;
  run.network.addTap({
    onSend(t) {
      if (t.from !== a || t.to !== b) return;
      const d = parseUdp(t.bytes);
      if (d !== undefined && d.dstPort === LOG_PORT) shipped += d.payload.length;
    },
  });
  const outcome = run.run();
  const primary = run.nodes.get('a')?.replica?.rsm;
  return {
    method: 'log',
    workload,
    seed: plan.seed,
    clientBytes: run.clientHost.stack.stats().bytesIn + (primary?.stats().bytesIn ?? 0),
    shippedBytes: shipped,
    latenciesUs: run.load.latenciesUs,
    durationUs: outcome.settledUs ?? run.sim.nowUs,
    streamsIntact: outcome.settledUs !== null && run.load.results().every((c) => c.intact),
  };
}

/** A server whose output waits for its checkpoint's ack (intervalUs 0: a lone server, output at once). */
class CheckpointServer {
  readonly rsm: Rsm;
  readonly serverConn = new Map<number, number>();
  shipped = 0;
  shippedDirty = 0;
  checkpoints = 0;
  /** The backup's copy of the last checkpoint, page by page, and the digest it must restore to. */
  private image = new Uint8Array(0);
  private imageDigest = 0;
  private held: Uint8Array[] = [];
  private lastCheckpointIndex = 0;
  private timerGeneration = 0;

  constructor(
    private readonly sim: Simulator,
    private readonly network: Network,
    plan: ClusterPlan,
    private readonly intervalUs: number,
    private readonly rttUs: number,
  ) {
    this.rsm = Rsm.create(plan.rsm, stackFactory, plan.startUs);
    this.rsm.onAccept = (socket, info) => this.serverConn.set(info.remotePort, socket);
    network.attach(CLUSTER_SERVICE, (nowUs, bytes) => this.apply({ kind: 'packet', packet: bytes } as LogEntry, nowUs));
    if (intervalUs > 0) this.scheduleCheckpoint(plan.startUs + intervalUs);
    this.arm();
  }

  private apply(entry: LogEntry, nowUs: number): void {
    entry.index = this.rsm.index + 1;
    entry.epoch = 1;
    entry.timeUs = Math.max(nowUs, this.rsm.lastTimeUs);
    entry.checks = [];
    const { packets } = this.rsm.apply(entry);
    if (this.intervalUs === 0) for (const p of packets) this.network.send(CLUSTER_SERVICE, p);
    else for (const p of packets) this.held.push(p);
    this.arm();
  }

  private arm(): void {
    const deadline = this.rsm.pollTimeout();
    const generation = ++this.timerGeneration;
    if (deadline === undefined) return;
    this.sim.schedule(Math.max(deadline, this.sim.nowUs), {
      kind: 'timer',
      target: CHECKPOINT_TARGET,
      run: () => {
        if (generation === this.timerGeneration) this.apply({ kind: 'tick' } as LogEntry, this.sim.nowUs);
      },
    });
  }

  private scheduleCheckpoint(atUs: number): void {
    this.sim.schedule(atUs, { kind: 'checkpoint', target: CHECKPOINT_TARGET, run: () => this.checkpoint() });
  }

  /** Snapshot, ship, and release what was held once the backup's ack is back. */
  private checkpoint(): void {
    this.scheduleCheckpoint(this.sim.nowUs + this.intervalUs);
    const release = this.held;
    this.held = [];
    if (this.rsm.index !== this.lastCheckpointIndex) {
      this.lastCheckpointIndex = this.rsm.index;
      const snap = this.rsm.snapshot();
      this.checkpoints++;
      this.shipped += snap.length;
      this.shippedDirty += this.applyPages(snap);
      this.imageDigest = this.rsm.digest();
    }
    if (release.length === 0) return;
    this.sim.schedule(this.sim.nowUs + this.rttUs, {
      kind: 'checkpoint-ack',
      target: CHECKPOINT_TARGET,
      run: () => {
        for (const p of release) this.network.send(CLUSTER_SERVICE, p);
      },
    });
  }

  /** The backup's side: copy the pages that differ into its image; returns the bytes shipped for them. */
  private applyPages(snap: Uint8Array): number {
    const old = this.image;
    const image = new Uint8Array(snap.length);
    image.set(old.subarray(0, Math.min(old.length, snap.length)));
    let bytes = 0;
    for (let at = 0; at < snap.length; at += PAGE_BYTES) {
      const end = Math.min(snap.length, at + PAGE_BYTES);
      if (!samePage(old, snap, at, end)) {
        image.set(snap.subarray(at, end), at);
        bytes += end - at + 8;
      }
    }
    this.image = image;
    return bytes;
  }

  /** The backup's image restores to the state of the last checkpoint. */
  consistent(): boolean {
    if (this.checkpoints === 0) return true;
    try {
      return Rsm.restore(this.image, stackFactory).digest() === this.imageDigest;
    } catch {
      return false;
    }
  }
}

function samePage(old: Uint8Array, snap: Uint8Array, at: number, end: number): boolean {
  if (old.length < end) return false;
  for (let i = at; i < end; i++) if (old[i] !== snap[i]) return false;
  return true;
}

function checkpointRun(plan: ClusterPlan, workload: ModesWorkload, intervalUs: number, meter: TaskMeter | undefined): StateRunFigures {
  const sim = new Simulator();
  sim.meter = meter;
  const { clientLink, logDelayUs } = plan.faults;
  const network = new Network(sim, deriveSeed(plan.seed, 'network'), { ...clientLink, jitterUs: 0, corrupt: clientLink.corrupt ?? 0 });
  const server = new CheckpointServer(sim, network, plan, intervalUs, 2 * logDelayUs);
  const clientHost = new Host<Stack>(sim, network, 'client', CLUSTER_CLIENT as Ipv4Addr, new Stack({ addresses: [CLUSTER_CLIENT], seed: deriveSeed(plan.seed, 'client-stack') }));
  const load = new ClientLoad(sim, clientHost, plan.load, (port) => server.serverConn.get(port));
  load.start();
  const outcome = sim.run({ until: () => load.allSettled, untilUs: plan.maxUs, maxEvents: 20_000_000 });
  const settled = load.allSettled;
  const figures: StateRunFigures = {
    method: intervalUs === 0 ? 'lone' : stateMethodName({ kind: 'checkpoint', intervalUs }),
    workload,
    seed: plan.seed,
    clientBytes: clientHost.stack.stats().bytesIn + server.rsm.stats().bytesIn,
    shippedBytes: server.shipped,
    latenciesUs: load.latenciesUs,
    durationUs: settled ? outcome.nowUs : sim.nowUs,
    streamsIntact: settled && load.results().every((c) => c.intact),
  };
  if (intervalUs > 0) {
    figures.shippedDirtyBytes = server.shippedDirty;
    figures.checkpoints = server.checkpoints;
    figures.backupConsistent = server.consistent();
  }
  return figures;
}
