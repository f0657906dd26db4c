/**
 * A cluster of real processes on loopback, for `ftcp demo failover`, scenarios and the
 * process-level tests: the arbiter, the switch, replicas and clients as children
 * (children.ts), every port picked by the child (port 0) and read from its first line.
 *
 * After a run, the replicas' wire captures tell what each put on the wire: re-emitted
 * packets are compared byte for byte with the old primary's, and the epochs each replica
 * emitted in show whether two were live in one epoch (split brain).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppName } from '../proxy/app.js';
import { readPcapng } from '../pcap/reader.js';
import { Child, Children, type ChildEvent } from './children.js';
import { CLUSTER_KEY_ENV, ClusterKey } from '../net/cluster-key.js';
import { arbiterArgv, clientArgv, loopback, replicaArgv, switchArgv, type ClusterCommon, type LoadShape, type ReplicaExtra, type SwitchLaunch } from './launch.js';

export interface LiveClusterOptions {
  /** Run directory: captures, the arbiter's state file. */
  dir: string;
  app: AppName;
  seed: number;
  bulkBytes: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  unsafeNoOutputRule: boolean;
  /** Every event line of every child. */
  onEvent?: (label: string, e: ChildEvent) => void;
  /** How long to wait for a child's start line. Default 20 s (a loaded machine starts node slowly). */
  startTimeoutMs?: number;
  /** more of `ftcp switch` (the TUN bridge's static entry, refused datagrams captured). */
  switchOptions?: Pick<SwitchLaunch, 'static' | 'captureDropped'>;
  /** The replicas' and clients' link MTU (`--mtu`; their stacks announce MSS = mtu - 40). Default: theirs (65000). */
  mtu?: number;
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
    const [a, s] = await Promise.all([
      this.arbiter.waitFor((e) => e.event === 'listening', this.startTimeoutMs, 'listening line'),
      this.switch.waitFor((e) => e.event === 'listening', this.startTimeoutMs, 'listening line'),
    ]);
    this.arbiterPort = a['port'] as number;
    this.switchPort = s['port'] as number;
  }

  /** the switch alone (the arbiter is an etcd cluster). */
  private async startSwitch(): Promise<void> {
    this.switch = this.children.start('switch', this.switchArgv());
    this.switchPort = (await this.switch.waitFor((e) => e.event === 'listening', this.startTimeoutMs, 'listening line'))['port'] as number;
  }

  private switchArgv(): string[] {
    return switchArgv({ listen: loopback(0), capture: join(this.opts.dir, 'client.pcapng'), ...this.opts.switchOptions });
  }

  /** Restarts the arbiter on the same port with its state file (no --init). */
  async restartArbiter(): Promise<void> {
    this.arbiter = this.children.start('arbiter', arbiterArgv({ listen: loopback(this.arbiterPort), state: this.statePath }));
    await this.arbiter.waitFor((e) => e.event === 'listening', this.startTimeoutMs, 'listening line');
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
    const o = this.opts;
    let logPeerAt: string | undefined;
    if (logPeer !== undefined || logPeerPort !== undefined) {
      const port = logPeerPort ?? this.logPorts.get(logPeer!);
      if (port === undefined) throw new Error(`no log port known for replica ${logPeer}`);
      logPeerAt = loopback(port);
    }
    const args = replicaArgv({
      ...this.common(),
      role,
      name,
      peer,
      arbiter: this.opts.arbiterUrl ?? loopback(this.arbiterPort),
      logListen: loopback(0),
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      captureDir: o.dir,
      unsafeNoOutputRule: o.unsafeNoOutputRule,
      ...(logPeerAt !== undefined ? { logPeer: logPeerAt } : {}),
      ...extra,
    });
    const child = this.children.start(`replica ${name}`, args);
    this.replicas.set(name, child);
    const started = await child.waitFor((e) => e.event === 'started', this.startTimeoutMs, 'its started line');
    this.logPorts.set(name, started['logListenPort'] as number);
    return child;
  }

  /** Starts a client (`ftcp client --json`) with a load of this shape; waits for its started line. */
  async startClient(label: string, load: LoadShape): Promise<Child> {
    const child = this.children.start(label, clientArgv({ ...this.common(), ...load, app: load.app ?? this.opts.app }));
    await child.waitFor((e) => e.event === 'started', this.startTimeoutMs, 'its started line');
    return child;
  }

  capturePaths(name: string): { wire: string; shadow: string; log: string } {
    return { wire: join(this.opts.dir, `${name}.pcapng`), shadow: join(this.opts.dir, `${name}-shadow.pcapng`), log: join(this.opts.dir, `${name}-log.pcapng`) };
  }

  /** Stops every child and leaves each one's lines in <dir>/<label>.jsonl (stderr in <label>.stderr when any). */
  async stop(): Promise<void> {
    await this.children.stopAll();
    const seen = new Map<string, number>();
    for (const c of this.children.all) {
      const n = seen.get(c.label) ?? 0;
      seen.set(c.label, n + 1);
      const base = join(this.opts.dir, `${c.label.replace(/\s+/g, '-')}${n > 0 ? `-${n + 1}` : ''}`);
      writeFileSync(`${base}.jsonl`, c.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      if (c.stderr !== '') writeFileSync(`${base}.stderr`, c.stderr);
    }
  }
}

/** What one replica put on the wire, from its capture. */
export interface WireView {
  /** Packets sent (latin1 keys of their bytes). */
  sent: Set<string>;
  reemitted: Uint8Array[];
  /** Epochs it emitted client packets in. */
  epochs: Set<number>;
  truncated: boolean;
}

export function readWireView(path: string): WireView {
  const view: WireView = { sent: new Set(), reemitted: [], epochs: new Set(), truncated: false };
  if (!existsSync(path)) return view;
  const r = readPcapng(new Uint8Array(readFileSync(path)));
  view.truncated = r.truncated !== undefined;
  for (const p of r.packets) {
    const m = /(?:^|; )O\(\d+\), epoch (\d+)/.exec(p.comments.join('; '));
    if (m === null) continue;
    view.sent.add(Buffer.from(p.data).toString('latin1'));
    view.epochs.add(Number(m[1]));
    if (p.comments.some((c) => c.includes('re-emitted'))) view.reemitted.push(p.data);
  }
  return view;
}

/**
 * Identity of a packet without its bytes: IPv4 ID, TCP ports and sequence number. Two
 * packets with the same identity are "the same segment"; byte-identical or not is the
 * question.
 */
function segmentKey(p: Uint8Array): string {
  const ihl = (p[0]! & 0x0f) * 4;
  return Buffer.from([p[4]!, p[5]!, ...p.subarray(ihl, ihl + 8)]).toString('hex');
}

/**
 * Re-emitted segments of `survivor`; how many of them the killed primary had put on the
 * wire (same IP ID, ports and sequence number: `sentByPrimary`), and how many of those
 * are byte-identical to the primary's (`identicalToPrimary`; equal when all is well).
 * A re-emitted segment the primary never sent (it was still held by the output rule) has
 * nothing to compare with.
 */
export function compareReemitted(killed: WireView, survivor: WireView): { segments: number; sentByPrimary: number; identicalToPrimary: number } {
  const keys = new Set([...killed.sent].map((k) => segmentKey(Buffer.from(k, 'latin1'))));
  return {
    segments: survivor.reemitted.length,
    sentByPrimary: survivor.reemitted.filter((p) => keys.has(segmentKey(p))).length,
    identicalToPrimary: survivor.reemitted.filter((p) => killed.sent.has(Buffer.from(p).toString('latin1'))).length,
  };
}

/** Epochs in which two or more replicas emitted client packets. */
export function splitBrainEpochs(views: WireView[]): number[] {
  const count = new Map<number, number>();
  for (const v of views) for (const e of v.epochs) count.set(e, (count.get(e) ?? 0) + 1);
  return [...count].filter(([, n]) => n > 1).map(([e]) => e);
}

/** One timeline line for an event of a child (label: 'switch', 'client', 'replica NAME', ...), or undefined if it is not worth one. */
export function timelineText(label: string, e: ChildEvent, connections: number): string | undefined {
  const name = typeof e['name'] === 'string' ? e['name'] : label;
  const f = (k: string) => String(e[k]);
  if (label === 'switch') {
    return e.event === 'moved' && e['address'] === '192.0.2.10' ? `switch: the service address moved from ${f('from')} (epoch ${f('fromEpoch')}) to ${f('to')} (epoch ${f('epoch')})` : undefined;
  }
  if (label.startsWith('client')) {
    if (e.event === 'resumed') return `${label}: reads new bytes again (resumed)`;
    if (e.event === 'progress') return `${label}: ${f('bytesReceived')} bytes received, ${f('settled')}/${connections} connection(s) done`;
    return undefined;
  }
  if (!label.startsWith('replica ')) return undefined;
  switch (e.event) {
    case 'channel-up':
      return e['channel'] === 'listen' ? `${name}: a backup connected to its log channel` : undefined;
    case 'announce':
      return `${name}: announces the service address ${f('service')}, epoch ${f('epoch')}`;
    case 'registered':
      return `switch: ${name} holds the service address (epoch ${f('epoch')})`;
    case 'suspect':
      return `${name}: peer silent for ${f('silentMs')} ms, asks the arbiter for epoch ${f('epoch')}`;
    case 'won':
      return `${name}: won the test-and-set of epoch ${f('epoch')}`;
    case 'lost':
      return `${name}: lost the test-and-set of epoch ${f('epoch')} to ${f('winner')}`;
    case 'fenced':
      return `${name}: fenced, emits nothing more; exits`;
    case 'stopped':
      return `${name}: stops (the other replica is in charge); exits`;
    case 'live':
      return `${name}: LIVE in epoch ${f('epoch')}; re-emits ${f('reemitted')} packet(s) of ${f('reemittedEntries')} entries above r = ${f('r')}`;
    case 'backup-joined':
      return `${name}: new backup ${f('peer')} joins at index ${f('index')} (snapshot ${f('snapshotBytes')} bytes), epoch ${f('epoch')}`;
    case 'joined':
      return `${name}: restored the snapshot at index ${f('index')}, following in epoch ${f('epoch')}`;
    case 'upstream-join-exported': // joining with a state adapter
      return `${name}: its app paused and idle, state exported for ${f('peer')} at index ${f('index')}`;
    case 'upstream-join-released':
      return `${name}: ${f('peer')}'s copy of its app is done; its app takes commands again (paused ${f('pausedMs')} ms)`;
    case 'upstream-imported':
      return `${name}: its app is a copy of the primary's as of the snapshot (${f('importMs')} ms); ${f('conns')} app connection(s) opened`;
    case 'upstream-join-failed':
      return `${name}: UPSTREAM JOIN FAILED (${f('side')}): ${f('message')}`;
    case 'fault':
      return `${name}: REPLICATION FAULT: ${f('message')}`;
    case 'arbiter-error':
      return `${name}: arbiter: ${f('message')}`;
    case 'channel-refused':
      return `${name}: ${f('message')}`;
    default:
      return undefined;
  }
}

/**
 * bulk: compares what the client uploaded on each connection with the digests the server
 * app of `replicaExit` (a replica's `exit` event, its stats) computed. Returns the problems.
 */
export function checkBulkUploads(clientResult: ChildEvent, replicaExit: ChildEvent | undefined): string[] {
  const uploads = (clientResult['uploads'] as Array<{ conn: number | null; bytes: number; sha256: string | null }> | undefined) ?? [];
  const digests = ((replicaExit?.['stats'] as Record<string, unknown> | undefined)?.['bulkUploads'] as Record<string, { received: number; sha256: string }> | undefined) ?? undefined;
  if (uploads.length === 0) return [];
  if (digests === undefined) return ['bulk: the surviving replica reported no upload digests'];
  const problems: string[] = [];
  for (const u of uploads) {
    const got = u.conn === null ? undefined : digests[String(u.conn)];
    if (got === undefined || got.received !== u.bytes || got.sha256 !== u.sha256) {
      problems.push(`bulk: connection ${u.conn ?? '?'} uploaded ${u.bytes} bytes (sha256 ${u.sha256 ?? '?'}) but the server app has ${got === undefined ? 'no digest' : `${got.received} bytes (sha256 ${got.sha256})`}`);
    }
  }
  return problems;
}
