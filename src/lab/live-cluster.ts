/**
 * A cluster of real processes on loopback, for `ftcp demo failover`, scenarios and the
 * process-level tests: the arbiter, the switch, replicas and clients as children
 * (children.ts), every port picked by the child (port 0) and read from its first line.
 *
 * After a run, the replicas' wire captures tell what each put on the wire: re-emitted
 * packets are compared byte for byte with the old primary's, and the epochs each replica
 * emitted in show whether two were live in one epoch (split brain).
 */
import type { StackProfile } from '../tcp/types.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AppName } from '../proxy/app.js';
import type { OutputMode } from '../replica/output-mode.js';
import { readPcapng } from '../pcap/reader.js';
import { LINKTYPE_ETHERNET } from '../pcap/pcapng.js';
import { ETHERNET_HEADER_BYTES } from '../wire/ethernet.js';
import { parseCaptureTag } from '../replica/capture-tags.js';
import { Child, Children, saveChildLines } from './children.js';
import { isReplicaEvent, replicaEvent, type ChildEvent, type ClientResult } from '../net/events.js';
import { bulkUploadProblems, claimsByEpoch, compareReemitted as compareReemittedPackets, packetKey, splitBrainEpochs as splitBrainEpochsOf } from '../replica/run-checks.js';
import { CLUSTER_KEY_ENV, ClusterKey } from '../net/cluster-key.js';
import { arbiterArgv, clientArgv, loopback, replicaArgv, switchArgv, type ClusterCommon, type ClientShape, type ReplicaExtra, type SwitchLaunch } from './launch.js';

/** What every cluster of real processes is run with (this file's and lan-cluster.ts's). */
export interface ClusterRunOptions {
  /** Run directory: captures, the arbiter's state file, each child's lines. */
  dir: string;
  app: AppName;
  seed: number;
  bulkBytes: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax of the replicas' failure detectors; none: D (a fixed timeout). */
  failureTimeoutMaxMs?: number;
  /** S of the replicas' failure detectors during start-up; none: the replica's default. */
  failureTimeoutStartMs?: number;
}

export interface LiveClusterOptions extends ClusterRunOptions {
  unsafeNoOutputRule: boolean;
  /** An unsafe output mode for both replicas (`ftcp experiment modes --real` only; src/replica/output-mode.ts). */
  unsafeOutputMode?: Exclude<OutputMode, 'output-rule'>;
  /** Every event line of every child. */
  onEvent?: (label: string, e: ChildEvent) => void;
  /** How long to wait for a child's start line. Default 20 s (a loaded machine starts node slowly). */
  startTimeoutMs?: number;
  /** more of `ftcp switch` (the TUN bridge's static entry, refused datagrams captured). */
  switchOptions?: Pick<SwitchLaunch, 'static' | 'captureDropped'>;
  /** The replicas' and clients' link MTU (`--mtu`; their stacks announce MSS = mtu - 40). Default: theirs (65000). */
  mtu?: number;
  /** The replicas' --profile; none: their default (rfc). */
  profile?: StackProfile;
  /** etcd arbiter: the replicas' --arbiter (etcd://...); then no embedded arbiter is started. */
  arbiterUrl?: string;
  /**
   * The cluster key every child gets in its environment (FTCP_CLUSTER_KEY, never argv).
   * Default: a fresh random key per run; false: none (the children warn and accept anyone).
   */
  clusterKey?: string | false;
}

/**
 * The link MTU of the demo, scenarios and chaos unless told otherwise: Ethernet's. Many
 * segments are in flight at a fault, so there is something to re-emit, a load lasts past
 * the moment of its kill, and the captures stay small. (A replica's own default, 65000,
 * moves a megabyte in a few milliseconds.)
 */
export const DEMO_MTU = 1500;

/** The switch's or the arbiter's first line: where it listens. */
function isListening(e: ChildEvent): e is Extract<ChildEvent, { event: 'listening'; port: number }> {
  return e.event === 'listening' && 'port' in e;
}

export class LiveCluster {
  readonly children: Children;
  arbiter!: Child;
  switch!: Child;
  arbiterPort = 0;
  switchPort = 0;
  readonly replicas = new Map<string, Child>();
  readonly logPorts = new Map<string, number>();
  /** The children's key, for what runs in this process and registers with the switch (chaos's and the bench's clients, the fuzzer). */
  readonly clusterKey: ClusterKey | undefined;
  private readonly startTimeoutMs: number;

  constructor(readonly opts: LiveClusterOptions) {
    const key = opts.clusterKey ?? ClusterKey.generateText();
    this.clusterKey = key === false ? undefined : ClusterKey.fromText(key, 'the run\'s cluster key');
    this.children = new Children((c, e) => opts.onEvent?.(c.label, e), key === false ? {} : { [CLUSTER_KEY_ENV]: key });
    this.startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  }

  get statePath(): string {
    return join(this.opts.dir, 'arbiter.json');
  }

  /** Starts the arbiter (fresh state file) and the switch (client capture). */
  async startNetwork(): Promise<void> {
    rmSync(this.statePath, { force: true });
    if (this.opts.arbiterUrl !== undefined) return this.startSwitch(); // etcd arbiter
    this.arbiter = this.children.start('arbiter', arbiterArgv({ listen: loopback(0), state: this.statePath, init: true }));
    this.switch = this.children.start('switch', this.switchArgv());
    const [a, s] = await Promise.all([this.arbiter.waitFor(isListening, this.startTimeoutMs, 'listening line'), this.switch.waitFor(isListening, this.startTimeoutMs, 'listening line')]);
    this.arbiterPort = a.port;
    this.switchPort = s.port;
  }

  /** the switch alone (the arbiter is an etcd cluster). */
  private async startSwitch(): Promise<void> {
    this.switch = this.children.start('switch', this.switchArgv());
    this.switchPort = (await this.switch.waitFor(isListening, this.startTimeoutMs, 'listening line')).port;
  }

  private switchArgv(): string[] {
    return switchArgv({ listen: loopback(0), capture: join(this.opts.dir, 'client.pcapng'), ...this.opts.switchOptions });
  }

  /** Restarts the arbiter on the same port with its state file (no --init). */
  async restartArbiter(): Promise<void> {
    this.arbiter = this.children.start('arbiter', arbiterArgv({ listen: loopback(this.arbiterPort), state: this.statePath }));
    await this.arbiter.waitFor(isListening, this.startTimeoutMs, 'listening line');
  }

  /** What every replica and client of this cluster is started with. */
  common(): ClusterCommon & { app: AppName } {
    const o = this.opts;
    return { switch: loopback(this.switchPort), app: o.app, seed: o.seed, bulkBytes: o.bulkBytes, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}) };
  }

  /**
   * Starts a replica and waits for its `started` line. `logPeer` is the name of the
   * replica whose log channel it dials (backup, join); `logPeerPort` a port to dial instead
   * (a relay's).
   */
  async startReplica(name: string, role: 'primary' | 'backup' | 'join', peer: string, logPeer?: string, extra: ReplicaExtra = {}, logPeerPort?: number): Promise<Child> {
    let logPeerAt: string | undefined;
    if (logPeer !== undefined || logPeerPort !== undefined) {
      const port = logPeerPort ?? this.logPorts.get(logPeer!);
      if (port === undefined) throw new Error(`no log port known for replica ${logPeer}`);
      logPeerAt = loopback(port);
    }
    const child = this.children.start(`replica ${name}`, this.replicaArgs(name, role, peer, logPeerAt, extra));
    child.stopSignal = 'SIGINT'; // stopping the cluster stops it at once, without a handover
    this.replicas.set(name, child);
    const started = await child.waitFor((e) => replicaEvent(e, 'started') !== undefined, this.startTimeoutMs, 'its started line');
    this.logPorts.set(name, replicaEvent(started, 'started')!.logListenPort!);
    return child;
  }

  /** The argv of replica `name` (`logPeerAt`: the address it dials for its log channel); starts nothing. */
  replicaArgs(name: string, role: 'primary' | 'backup' | 'join', peer: string, logPeerAt?: string, extra: ReplicaExtra = {}): string[] {
    const o = this.opts;
    return replicaArgv({
      ...this.common(),
      role,
      name,
      peer,
      arbiter: this.opts.arbiterUrl ?? loopback(this.arbiterPort),
      logListen: loopback(0),
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      ...(o.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: o.failureTimeoutMaxMs } : {}),
      ...(o.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: o.failureTimeoutStartMs } : {}),
      ...(o.profile !== undefined ? { profile: o.profile } : {}),
      captureDir: o.dir,
      unsafeNoOutputRule: o.unsafeNoOutputRule,
      ...(o.unsafeOutputMode !== undefined ? { unsafeOutputMode: o.unsafeOutputMode } : {}),
      ...(logPeerAt !== undefined ? { logPeer: logPeerAt } : {}),
      ...extra,
    });
  }

  /** Starts a client (`ftcp client --json`) with a load of this shape; waits for its started line. */
  async startClient(label: string, load: ClientShape): Promise<Child> {
    const child = this.children.start(label, clientArgv({ ...this.common(), ...load, app: load.app ?? this.opts.app }));
    await child.waitFor((e) => e.event === 'started', this.startTimeoutMs, 'its started line');
    return child;
  }

  capturePaths(name: string): ReplicaCapturePaths {
    return replicaCapturePaths(this.opts.dir, name);
  }

  /** Stops every child and leaves each one's lines in <dir>/<label>.jsonl (stderr in <label>.stderr when any). */
  async stop(): Promise<void> {
    await this.children.stopAll();
    saveChildLines(this.children.all, this.opts.dir);
  }
}

export interface ReplicaCapturePaths {
  wire: string;
  shadow: string;
  log: string;
}

/** Where `ftcp replica --capture-dir DIR --name NAME` writes its captures. */
export function replicaCapturePaths(dir: string, name: string): ReplicaCapturePaths {
  return { wire: join(dir, `${name}.pcapng`), shadow: join(dir, `${name}-shadow.pcapng`), log: join(dir, `${name}-log.pcapng`) };
}

/** What one replica put on the wire, from its capture. */
export interface WireView {
  /** Packets sent (latin1 keys of their bytes). */
  sent: Set<string>;
  reemitted: Uint8Array[];
  /** Epochs it emitted client packets in. */
  epochs: Set<number>;
  truncated: boolean;
  /** 14 when the capture holds Ethernet frames (a replica on a TAP device), else 0 (raw IPv4). */
  linkHeaderBytes: number;
}

export function readWireView(path: string): WireView {
  const view: WireView = { sent: new Set(), reemitted: [], epochs: new Set(), truncated: false, linkHeaderBytes: 0 };
  if (!existsSync(path)) return view;
  const r = readPcapng(new Uint8Array(readFileSync(path)));
  view.truncated = r.truncated !== undefined;
  if (r.interfaces.some((i) => i.linkType === LINKTYPE_ETHERNET)) view.linkHeaderBytes = ETHERNET_HEADER_BYTES;
  for (const p of r.packets) {
    const tag = parseCaptureTag(p.comments.join('; '));
    if (tag?.epoch === undefined) continue;
    view.sent.add(packetKey(p.data));
    view.epochs.add(tag.epoch);
    if (tag.reemitted) view.reemitted.push(p.data);
  }
  return view;
}

/** Re-emitted segments of `survivor` against what the killed primary put on the wire (run-checks.ts, compareReemitted). */
export function compareReemitted(killed: WireView, survivor: WireView): { segments: number; sentByPrimary: number; identicalToPrimary: number } {
  return compareReemittedPackets(killed.sent, survivor.reemitted, survivor.linkHeaderBytes);
}

/** Epochs in which two or more replicas emitted client packets. */
export function splitBrainEpochs(views: WireView[]): number[] {
  return splitBrainEpochsOf(claimsByEpoch(views.map((v, i) => [String(i), v.epochs] as const)));
}

/** One timeline line for an event of a child (label: 'switch', 'client', 'replica NAME', ...), or undefined if it is not worth one. */
export function timelineText(label: string, e: ChildEvent, connections: number): string | undefined {
  if (label === 'switch') {
    return e.event === 'moved' && e.address === '192.0.2.10' ? `switch: the service address moved from ${e.from} (epoch ${e.fromEpoch}) to ${e.to} (epoch ${e.epoch})` : undefined;
  }
  if (label.startsWith('client')) {
    if (e.event === 'resumed') return `${label}: reads new bytes again (resumed)`;
    if (e.event === 'progress') return `${label}: ${e.bytesReceived} bytes received, ${e.settled}/${connections} connection(s) done`;
    return undefined;
  }
  if (!label.startsWith('replica ') || !isReplicaEvent(e)) return undefined;
  const name = e.name;
  switch (e.event) {
    case 'channel-up':
      return e.channel === 'listen' ? `${name}: a backup connected to its log channel` : undefined;
    case 'announce':
      return `${name}: announces the service address ${e.service}, epoch ${e.epoch}`;
    case 'registered':
      return `switch: ${name} holds the service address (epoch ${e.epoch})`;
    case 'suspect':
      return `${name}: ${e.reason === 'channel-lost' ? `peer's log channel closed (silent ${e.silentMs} ms)` : `peer silent for ${e.silentMs} ms`}, asks the arbiter for epoch ${e.epoch}`;
    case 'won':
      return `${name}: won the test-and-set of epoch ${e.epoch}`;
    case 'lost':
      return `${name}: lost the test-and-set of epoch ${e.epoch} to ${e.winner}`;
    case 'fenced':
      return `${name}: fenced, emits nothing more; exits`;
    case 'stopped':
      return `${name}: stops (the other replica is in charge); exits`;
    case 'live':
      return `${name}: LIVE in epoch ${e.epoch}; re-emits ${e.reemitted} packet(s) of ${e.reemittedEntries} entries above r = ${e.r}`;
    case 'backup-joined':
      return `${name}: new backup ${e.peer} joins at index ${e.index} (snapshot ${e.snapshotBytes} bytes), epoch ${e.epoch}`;
    case 'joined':
      return `${name}: restored the snapshot at index ${e.index}, following in epoch ${e.epoch}`;
    case 'upstream-join-exported': // joining with a state adapter
      return `${name}: its app paused and idle, state exported for ${e.peer} at index ${String(e.index)}`;
    case 'upstream-join-released':
      return `${name}: ${e.peer}'s copy of its app is done; its app takes commands again (paused ${e.pausedMs} ms)`;
    case 'upstream-imported':
      return `${name}: its app is a copy of the primary's as of the snapshot (${e.importMs} ms); ${e.conns} app connection(s) opened`;
    case 'upstream-join-failed':
      return `${name}: UPSTREAM JOIN FAILED (${e.side}): ${e.message}`;
    case 'fault':
      return `${name}: REPLICATION FAULT: ${e.message}`;
    case 'arbiter-error':
      return `${name}: arbiter: ${e.message}`;
    case 'channel-refused':
      return `${name}: ${e.message}`;
    default:
      return undefined;
  }
}

/**
 * bulk: compares what the client uploaded on each connection (`uploads` of its result
 * line) with the digests the server app of `replicaExit` (a replica's `exit` line, its
 * stats) computed. Returns the problems.
 */
export function checkBulkUploads(clientResult: ChildEvent | Pick<ClientResult, 'uploads'>, replicaExit: ChildEvent | undefined): string[] {
  const uploads = ('event' in clientResult ? (clientResult.event === 'result' ? clientResult.uploads : undefined) : clientResult.uploads) ?? [];
  const digests = replicaExit === undefined ? undefined : replicaEvent(replicaExit, 'exit')?.stats.bulkUploads;
  if (uploads.length === 0) return [];
  if (digests === undefined) return ['bulk: the surviving replica reported no upload digests'];
  return bulkUploadProblems(uploads.map((u) => ({ conn: u.conn ?? '?', bytes: u.bytes, sha256: u.sha256, digest: u.conn === null ? undefined : digests[String(u.conn)] })));
}
