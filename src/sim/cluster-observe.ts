/**
 * Step three of a cluster run (cluster.ts): what is observed. The observer keeps the
 * timeline, the problems found while the run goes, the failovers (from the kill: detected,
 * live, client resumed) and which server connection serves which client port;
 * observeCluster then checks the end state (streams intact, split brain, counter answers,
 * bulk uploads, every kill answered by a go-live, re-emitted segments identical to the old
 * primary's) and assembles the result.
 */
import type { BulkApp } from '../proxy/app.js';
import type { ClusterCaptureName } from '../pcap/vantage.js';
import type { ConnResult, LoadApp } from './cluster-load.js';
import type { ClusterRun, RunOutcome } from './cluster-build.js';
import type { ClientLinkTcp } from './client-link.js';
import type { ReplicaNode } from './cluster-nodes.js';
import { clusterCommandLine, type ClusterPlan, type FaultPlan } from './cluster-plan.js';
import { formatUs } from './clock.js';
import type { FaultCounters } from './network.js';
import type { Simulator } from './world.js';
import { identicalReemitted, splitBrainEpochs, streamCounts } from '../replica/run-checks.js';

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
  /** What the survivor said at go-live: the r it knew, its last index, what it re-emitted. */
  goLive?: { r: number; lastIndex: number; reemitted: number; reemittedEntries: number };
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
  /** RST and FIN segments on the client link, as the client saw them (client-link.ts). */
  clientLink: ClientLinkTcp;
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

/** What happens during a run, as it happens. */
export class ClusterObserver {
  readonly timeline: Array<{ timeUs: number; text: string }> = [];
  readonly problems: Array<{ kind: ClusterFailureKind; message: string }> = [];
  readonly failovers: FailoverReport[] = [];
  readonly replicationFaults: string[] = [];
  readonly divergences: ClusterDivergence[] = [];
  /** Which server connection serves which client port (every replica must agree). */
  readonly serverConn = new Map<number, { conn: number; by: string }>();
  /** Called when a replica goes live, before anything else happens (the experiments look at both stacks then). */
  onLive: ((node: ReplicaNode) => void) | undefined;

  constructor(private readonly sim: Simulator) {}

  say(text: string): void {
    this.timeline.push({ timeUs: this.sim.nowUs, text });
  }

  problem(kind: ClusterFailureKind, message: string): void {
    this.problems.push({ kind, message });
  }

  watchAccepts(node: ReplicaNode): void {
    const rsm = node.replica?.rsm;
    if (rsm === undefined) return;
    rsm.onAccept = (socket, info) => {
      const seen = this.serverConn.get(info.remotePort);
      if (seen === undefined) this.serverConn.set(info.remotePort, { conn: socket, by: node.name });
      else if (seen.conn !== socket) this.problem('correctness', `replicas disagree on the connection for client port ${info.remotePort}: ${seen.by} has ${seen.conn}, ${node.name} has ${socket}`);
    };
  }

  /** A live replica was killed: a failover is due. */
  killedLive(name: string): void {
    this.failovers.push({ killed: name, by: undefined, killUs: this.sim.nowUs, detectedMs: null, liveMs: null, clientResumedMs: null, epoch: null, reemitted: 0, identicalToPrimary: 0 });
  }

  /** Milliseconds from `fromUs` to now, to 10 µs. */
  ms(fromUs: number): number {
    return Math.round((this.sim.nowUs - fromUs) / 10) / 100;
  }

  /** The latest failover nobody has answered by going live yet. */
  openFailover(): FailoverReport | undefined {
    return [...this.failovers].reverse().find((f) => f.liveMs === null);
  }
}

/** Checks the end state of a run and assembles its result. */
export function observeCluster(plan: ClusterPlan, run: ClusterRun, outcome: RunOutcome): ClusterResult {
  const { options, seed, app, connections, unsafe } = plan;
  const { obs, load, nodes, sw, sim } = run;
  const problem = (kind: ClusterFailureKind, message: string) => obs.problem(kind, message);
  const failovers = obs.failovers;
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
      const conn = u.localPort === undefined ? undefined : obs.serverConn.get(u.localPort)?.conn;
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
  const clientStats = run.clientHost.stack.stats();
  const ordered = obs.problems;
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
    clientLink: run.clientLink,
    splitBrain: splitEpochs.length,
    replicationFaults: obs.replicationFaults,
    conns,
    plan: plan.faults,
    network: run.network.counters(),
    switch: { blackholed: sw.blackholed, droppedStale: sw.droppedStale },
    timeline: obs.timeline,
    endUs: sim.nowUs,
    settledUs: outcome.settledUs,
    events: outcome.events,
    captures: run.captures.bytes(),
    command: clusterCommandLine(options),
  };
  if (counterAnswers !== undefined) result.counterAnswers = counterAnswers;
  if (options.upstream !== undefined) {
    result.divergences = obs.divergences.length;
    result.divergenceList = obs.divergences.slice(0, 20);
    result.upstreamContinuedBytes = [...nodes.values()].reduce((n, x) => n + (x.replica?.counters.upstreamContinuedBytes ?? 0), 0);
  }
  if (ordered.length > 0) result.failure = ordered[0]!;
  return result;
}
