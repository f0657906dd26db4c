/** What the live demo is told (the CLI's flags) and what a run of it holds for its report. */
import type { ChildEvent } from '../children.js';
import type { KernelTool } from '../kernel-tools.js';
import type { LiveCluster } from '../live-cluster.js';
import type { BridgeView, GarpFrame, LanClusterReport } from '../lan-cluster.js';
import type { LoadApp } from '../../sim/cluster-load.js';
import type { StackProfile } from '../../tcp/types.js';
import type { KernelSide } from './kernel.js';
import type { RedisReport } from './redis.js';
import type { GoLiveNote } from './resent.js';
import type { DemoMarks, SeenEvent } from './verdict.js';

export interface LiveDemoOptions {
  /** The replicas' --profile (loopback only); none: rfc. */
  profile?: StackProfile;
  /** Skip report.json and report.html in the run folder (`--no-report`). */
  noReport?: boolean;
  /** 'http': a Node HTTP server upstream of each replica (`ftcp replica --upstream`); 'redis': a redis-server. */
  app: LoadApp;
  connections: number;
  seed: number;
  seedFromClock: boolean;
  /** bulk: bytes each way per connection; echo: about this many bytes echoed per connection. */
  bytes: number;
  killAfterMs: number;
  /** in-flight (default): the primary dies with output the backup must re-send (in-flight.ts); any: a plain kill at killAfterMs. */
  killMoment?: 'in-flight' | 'any';
  captureDir: string;
  unsafe: boolean;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax of the replicas' failure detectors; none: D. */
  failureTimeoutMaxMs?: number;
  /** S of the replicas' failure detectors during start-up; none: the replica's default. */
  failureTimeoutStartMs?: number;
  json: boolean;
  /** The replicas' and the client's link MTU (MSS = mtu - 40). */
  mtu: number;
  // ---- the kernel as the client (kernel.ts) ----
  client?: 'ftcp' | 'kernel';
  tunMtu?: number;
  /** The kernel client: node (net sockets), curl (http) or nc (echo); kernel-tools.ts. */
  kernelTool?: KernelTool;
  /** Set in the run inside the network namespace that the outer run made. */
  netnsInner?: string;
  // ---- a real Linux bridge (lan.ts) ----
  /** loopback: the UDP switch (default); lan: namespaces on a Linux bridge, replicas on TAP devices, the kernel as the client. */
  network?: 'loopback' | 'lan';
  /** --network lan: netem delay on the replica hosts' links, each way. */
  linkDelayMs?: number;
  /** --network lan: the arbiter on a three-member etcd cluster, one member per host. */
  arbiter?: 'etcd';
}

export interface Failover {
  killed: string;
  killAtMs: number;
  by: string | null;
  epoch: number | null;
  detectedMs: number | null;
  liveMs: number | null;
  clientResumedMs: number | null;
  /** What the survivor said at go-live: r, its last index, what it re-sent. */
  goLive?: GoLiveNote;
}

/** A run's processes and what it saw of them, as the report reads them (live.ts's LiveDemo). */
export interface DemoState {
  readonly o: LiveDemoOptions;
  /** The namespace this run is inside (the kernel as the client). */
  readonly kernelNs: string | undefined;
  readonly dir: string;
  /** Where the replicas' captures are. */
  readonly cluster: Pick<LiveCluster, 'capturePaths'>;
  readonly timeline: ReadonlyArray<{ ms: number; text: string }>;
  /** What went wrong; the report adds its own verdicts. */
  readonly problems: string[];
  readonly divergences: ReadonlyArray<{ replica: string; conn: number; offset: number; what: string }>;
  readonly failover: Failover;
  readonly killed: boolean;
  readonly clientResult: ChildEvent | undefined;
  readonly backupExit: ChildEvent | undefined;
  readonly kernelSide: KernelSide | undefined;
  readonly redisReport: RedisReport | undefined;
  /** --network lan: the LAN's side (lan.ts). */
  readonly lan?: LanDemoSide | undefined;
  /** The signal that stopped the run (SIGINT, SIGTERM), if one did. */
  readonly interrupted?: string | undefined;
  /** A failover before the kill (the machine too slow for the timing): what happened and what to change. */
  readonly falseFailover?: string | undefined;
  /** The replicas' failover events as seen, and the demo's own steps (verdict.ts); loopback runs. */
  readonly seen?: readonly SeenEvent[];
  readonly marks?: DemoMarks;
}

/** What a run on a Linux bridge saw of the LAN. */
export interface LanDemoSide {
  report: LanClusterReport;
  /** The bridge capture read back (null when it could not be). */
  bridge: BridgeView | null;
  /** The first gratuitous ARP of the service at or after the kill. */
  garpAfterKill: GarpFrame | null;
}
