/** What the live demo is told (the CLI's flags) and what a run of it holds for its report. */
import type { ChildEvent } from '../children.js';
import type { KernelTool } from '../kernel-tools.js';
import type { LiveCluster } from '../live-cluster.js';
import type { LoadApp } from '../../sim/cluster-load.js';
import type { KernelSide } from './kernel.js';
import type { RedisReport } from './redis.js';

export interface LiveDemoOptions {
  /** 'http': a Node HTTP server upstream of each replica (`ftcp replica --upstream`); 'redis': a redis-server. */
  app: LoadApp;
  connections: number;
  seed: number;
  seedFromClock: boolean;
  /** bulk: bytes each way per connection; echo: about this many bytes echoed per connection. */
  bytes: number;
  killAfterMs: number;
  captureDir: string;
  unsafe: boolean;
  heartbeatMs: number;
  failureTimeoutMs: number;
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
}

export interface Failover {
  killed: string;
  killAtMs: number;
  by: string | null;
  epoch: number | null;
  detectedMs: number | null;
  liveMs: number | null;
  clientResumedMs: number | null;
}

/** A run's processes and what it saw of them, as the report reads them (live.ts's LiveDemo). */
export interface DemoState {
  readonly o: LiveDemoOptions;
  /** The namespace this run is inside (the kernel as the client). */
  readonly kernelNs: string | undefined;
  readonly dir: string;
  readonly cluster: LiveCluster;
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
}
