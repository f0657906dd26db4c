/**
 * `ftcp experiment modes`: the same seeded workloads under each output mode
 * (src/replica/output-mode.ts), in virtual time. Per mode and workload, two runs per seed:
 *
 *   steady    no kill, no partition: throughput and request latency (what the mode costs);
 *   failover  the log channel from the primary to the backup turns lossy shortly before the
 *             primary dies (a failing link, a congested one: the log lags the output), then
 *             the kill: what the client had that the survivor does not (what the mode breaks).
 *
 * At the survivor's go-live the experiment compares, connection by connection, the client's
 * stack with the survivor's: sequence space the client received that the survivor never
 * produced (output lost), and sequence space the client had acknowledged as received that
 * the survivor never got (input lost). After the run: broken streams, resets, and the
 * counter's repeated or skipped answers. The client link's faults and the kill moment come
 * from the seed and are the same for every mode.
 */
import { OUTPUT_MODES, type OutputMode } from '../replica/output-mode.js';
import { Prng } from '../tcp/prng.js';
import { deriveSeed } from '../tcp/seed.js';
import type { Stack } from '../tcp/stack.js';
import { ClusterRun } from './cluster-build.js';
import type { ReplicaNode } from './cluster-nodes.js';
import { observeCluster } from './cluster-observe.js';
import { CLUSTER_REPLICAS, planCluster, type ClusterOptions } from './cluster-plan.js';

/** The workloads: a request/response one (latency, counter answers) and an upload (pure ACKs). */
export const MODES_WORKLOADS = {
  counter: {
    what: '3 connections of INCR requests, 2-15 ms think time; every answer must be the next integer',
    options: { app: 'counter', connections: 3 },
    killUs: [120_000, 300_000],
  },
  upload: {
    what: '2 connections each uploading 300-500 KB (and reading a 20 KB answer); the server app hashes what it got',
    options: { app: 'bulk', connections: 2, load: { bulkBytes: 20_000, uploadBytes: [300_000, 500_000] } },
    killUs: [60_000, 160_000],
  },
} as const satisfies Record<string, { what: string; options: Pick<ClusterOptions, 'app' | 'connections' | 'load'>; killUs: [number, number] }>;
export type ModesWorkload = keyof typeof MODES_WORKLOADS;
export const MODES_WORKLOAD_NAMES = Object.keys(MODES_WORKLOADS) as ModesWorkload[];

/** Why each mode breaks (or does not), for the output and the README. */
export const MODE_WHY: Record<OutputMode, string> = {
  'output-rule': 'safe: the client sees O(i) only after the backup has applied entry i, so the survivor has produced everything the client saw',
  async: 'output goes before its entry reaches the backup: entries lost or late on the log channel when the primary dies take with them answers and ACKs the client already has',
  'acks-at-once': 'data waits but pure ACKs (an upload\'s, the quick ACK of a request) do not: the client drops the acknowledged bytes from its send buffer, and if their entry never reached the backup nobody has them; the request is lost and the connection waits for an answer that never comes',
  'ack-on-receipt': 'the backup acknowledges the highest index received, past a gap left by a lost frame: the primary releases that output and forgets its copy, and the backup, unable to apply past the gap, drops it all at go-live',
};

export interface ModesOptions {
  seeds: number[];
  modes: OutputMode[];
  workloads: ModesWorkload[];
  /** The log channel primary -> backup drops this share of frames ... */
  logLoss: number;
  /** ... from this long before the kill. */
  lossyBeforeKillUs: number;
}

export const MODES_DEFAULTS: ModesOptions = { seeds: [2, 5, 13, 14], modes: [...OUTPUT_MODES], workloads: [...MODES_WORKLOAD_NAMES], logLoss: 0.5, lossyBeforeKillUs: 40_000 };

export interface SteadyFigures {
  /** Client payload bytes, both directions, per virtual second until every stream settled. */
  throughputKBps: number;
  /** Request/response workloads: answers per virtual second, and latency percentiles. */
  requestsPerS?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Runs that did not settle (a steady run must). */
  unsettled: number;
}

/** What a failover broke, counted (the simulator's and the real-process experiment's). */
export interface AnomalyCounts {
  brokenStreams: number;
  resets: number;
  /** Sequence space the client received that the survivor never produced. */
  outputLostBytes: number;
  /** Sequence space the client had acknowledged that the survivor never received. */
  inputLostBytes: number;
  /** Client connections past their handshake that the survivor does not have at all. */
  missingConnections: number;
  counterRepeats: number;
  counterGaps: number;
}
export const ANOMALY_COUNTS = ['brokenStreams', 'resets', 'outputLostBytes', 'inputLostBytes', 'missingConnections', 'counterRepeats', 'counterGaps'] as const satisfies ReadonlyArray<keyof AnomalyCounts>;

export interface FailoverFigures extends AnomalyCounts {
  seed: number;
  killUs: number;
  splitBrain: number;
  replicationFaults: number;
  anomaly: boolean;
  /** The first thing that went wrong, in words. */
  first?: string;
}

export interface ModeRow {
  workload: ModesWorkload;
  mode: OutputMode;
  steady: SteadyFigures;
  failovers: FailoverFigures[];
  /** Seeds whose failover showed an anomaly. */
  anomalySeeds: number[];
}

export interface ModesReport {
  options: ModesOptions;
  rows: ModeRow[];
  why: Record<OutputMode, string>;
  /** Seeds (per workload) where the output rule showed nothing and every unsafe mode run showed an anomaly. */
  exposed: Record<string, number[]>;
}

export function runModesExperiment(o: ModesOptions): ModesReport {
  const rows: ModeRow[] = [];
  for (const workload of o.workloads) {
    for (const mode of o.modes) {
      const steady = o.seeds.map((seed) => steadyRun(workload, mode, seed));
      const failovers = o.seeds.map((seed) => failoverRun(workload, mode, seed, o));
      rows.push({ workload, mode, steady: aggregateSteady(steady), failovers, anomalySeeds: failovers.filter((f) => f.anomaly).map((f) => f.seed) });
    }
  }
  const exposed: Record<string, number[]> = {};
  for (const workload of o.workloads) {
    const mine = rows.filter((r) => r.workload === workload);
    const safe = mine.find((r) => r.mode === 'output-rule');
    const unsafe = mine.filter((r) => r.mode !== 'output-rule');
    exposed[workload] = o.seeds.filter((s) => (safe === undefined || !safe.anomalySeeds.includes(s)) && unsafe.length > 0 && unsafe.every((r) => r.anomalySeeds.includes(s)));
  }
  return { options: o, rows, why: MODE_WHY, exposed };
}

interface SteadyRun {
  clientBytes: number;
  durationUs: number;
  latenciesUs: number[];
  settled: boolean;
}

/** The cluster options of a workload under a mode, for one seed (no seeded log partition, no captures). */
export function modesClusterOptions(workload: ModesWorkload, mode: OutputMode, seed: number): ClusterOptions {
  const w = MODES_WORKLOADS[workload];
  // No seeded log partition: each run's only log-channel fault is the one the experiment adds.
  return { seed, ...w.options, load: { ...('load' in w.options ? w.options.load : {}) } as ClusterOptions['load'], outputMode: mode, faults: { logPartition: undefined }, capture: 'none', maxUs: 10_000_000 };
}

function steadyRun(workload: ModesWorkload, mode: OutputMode, seed: number): SteadyRun {
  const run = new ClusterRun(planCluster({ ...modesClusterOptions(workload, mode, seed), noCrash: true }));
  const outcome = run.run();
  const durationUs = outcome.settledUs ?? run.sim.nowUs;
  // Payload accepted in order, both ways: by the client, and by the primary's stack.
  const clientBytes = run.clientHost.stack.stats().bytesIn + (run.nodes.get('a')?.replica?.rsm?.stats().bytesIn ?? 0);
  return { clientBytes, durationUs, latenciesUs: run.load.latenciesUs, settled: outcome.settledUs !== null };
}

function aggregateSteady(runs: SteadyRun[]): SteadyFigures {
  const bytes = runs.reduce((n, r) => n + r.clientBytes, 0);
  const us = runs.reduce((n, r) => n + r.durationUs, 0);
  const lat = runs.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
  const out: SteadyFigures = { throughputKBps: round(bytes / 1000 / (us / 1e6), 1), unsettled: runs.filter((r) => !r.settled).length };
  if (lat.length > 0) {
    out.requestsPerS = round(lat.length / (us / 1e6), 1);
    out.p50Ms = round(percentile(lat, 0.5) / 1000, 2);
    out.p99Ms = round(percentile(lat, 0.99) / 1000, 2);
  }
  return out;
}

/** The kill moment of a failover run: from the seed alone, the same for every mode. */
export function modesKillUs(workload: ModesWorkload, seed: number): number {
  const [lo, hi] = MODES_WORKLOADS[workload].killUs;
  return lo + new Prng(deriveSeed(seed, 'experiment-kill')).below(hi - lo + 1);
}

function failoverRun(workload: ModesWorkload, mode: OutputMode, seed: number, o: ModesOptions): FailoverFigures {
  const killUs = modesKillUs(workload, seed);
  const options = modesClusterOptions(workload, mode, seed);
  const plan = planCluster({ ...options, faults: { ...options.faults, crashAtUs: killUs } });
  const run = new ClusterRun(plan);
  const a = CLUSTER_REPLICAS.a!;
  const b = CLUSTER_REPLICAS.b!;
  run.sim.schedule(Math.max(0, killUs - o.lossyBeforeKillUs), { kind: 'experiment', target: 'log channel a->b', run: () => run.network.setLink(a, b, { loss: o.logLoss }) });
  let lost: LostAtGoLive | undefined;
  run.obs.onLive = (node) => {
    lost ??= compareAtGoLive(run, node);
  };
  const result = observeCluster(plan, run, run.run());
  const answers = run.load.counterAnswers;
  const distinct = new Set(answers);
  const max = answers.reduce((m, v) => Math.max(m, v), 0);
  const f: FailoverFigures = {
    seed,
    killUs,
    brokenStreams: result.streams.broken,
    resets: result.resets,
    outputLostBytes: lost?.output ?? 0,
    inputLostBytes: lost?.input ?? 0,
    missingConnections: lost?.missing ?? 0,
    counterRepeats: answers.length - distinct.size,
    counterGaps: max - distinct.size,
    splitBrain: result.splitBrain,
    replicationFaults: result.replicationFaults.length,
    anomaly: false,
  };
  f.anomaly = f.brokenStreams + f.resets + f.outputLostBytes + f.inputLostBytes + f.missingConnections + f.counterRepeats + f.counterGaps + f.splitBrain + f.replicationFaults > 0;
  const first = lost?.first ?? result.problems[0];
  if (f.anomaly && first !== undefined) f.first = first;
  return f;
}

interface LostAtGoLive {
  output: number;
  input: number;
  missing: number;
  first?: string;
}

/** Sequence space the client holds that the survivor does not, per connection, at go-live. */
function compareAtGoLive(run: ClusterRun, survivor: ReplicaNode): LostAtGoLive {
  const rsm = survivor.replica?.rsm;
  const client = run.clientHost.stack;
  const out: LostAtGoLive = { output: 0, input: 0, missing: 0 };
  if (rsm === undefined) return out;
  const byPort = new Map<number, ReturnType<typeof rsm.info>>();
  for (const s of rsm.connections()) {
    const i = rsm.info(s);
    if (i.kind === 'connection') byPort.set(i.remotePort, i);
  }
  for (const c of run.load.conns) {
    if (c.socket === undefined) continue;
    let ci: ReturnType<Stack['info']>;
    try {
      ci = client.info(c.socket);
    } catch {
      continue; // gone from the client: it finished before the kill
    }
    if (ci.state === 'SYN-SENT' || ci.state === 'TIME-WAIT' || ci.state === 'CLOSED') continue;
    const clientGot = (ci.rcvNxt - ci.irs) >>> 0;
    const clientAcked = (ci.sndUna - ci.iss) >>> 0;
    const si = byPort.get(ci.localPort);
    // Not accepted yet: the survivor may hold it mid-handshake (its SYN-ACK is all the client has); a lost SYN shows as a reset.
    if (si === undefined && clientGot <= 1 && clientAcked <= 1) continue;
    // Not accepted by the survivor: it may still hold the connection half open (and re-send
    // its SYN-ACK), so only what lies beyond the two SYNs counts as lost.
    const made = si === undefined ? 1 : (si.sndNxt - si.iss) >>> 0;
    const got = si === undefined ? 1 : (si.rcvNxt - si.irs) >>> 0;
    if (si === undefined) out.missing++;
    const o = Math.max(0, clientGot - made);
    const i = Math.max(0, clientAcked - got);
    out.output += o;
    out.input += i;
    if (out.first === undefined && (o > 0 || i > 0 || si === undefined)) {
      out.first = `connection ${c.index}: the client had received ${clientGot} and had acknowledged ${clientAcked} of sequence space; the survivor ${si === undefined ? 'has no such connection' : `had produced ${made} and received ${got}`}`;
    }
  }
  return out;
}

/** The q-quantile of sorted values (nearest rank). */
export function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
