/**
 * What a replica host is started with (the flags of `ftcp replica`, typed), and what both
 * replicas of a pair derive from them alike: the RSM configuration, the Replica's options,
 * and the replicas' virtual addresses in captures.
 */
import * as net from 'node:net';
import type { AppName } from '../proxy/app.js';
import type { LiveCapture } from '../pcap/live-sink.js';
import type { ReplicaOptions } from '../replica/outbox.js';
import type { OutputMode } from '../replica/output-mode.js';
import type { RsmConfig } from '../replica/rsm.js';
import { stackFactory } from '../replica/stack-factory.js';
import { deriveSeed } from '../tcp/seed.js';
import type { StackProfile } from '../tcp/types.js';
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { crc32 } from '../wire/crc32.js';
import { serviceMacFor, type MacAddr } from '../wire/ethernet.js';
import type { ClusterKey } from './cluster-key.js';
import { describeConnectError, type Endpoint } from './endpoint.js';
import { DEFAULT_MTU, LinkError } from './udp-link.js';

export type ReplicaStartRole = 'primary' | 'backup' | 'join';

/** The arbiter's virtual address in captures (as in the simulator). */
export const ARBITER_VIRTUAL_ADDRESS = parseIpv4Addr('192.0.2.2');

export interface ReplicaProcessOptions {
  role: ReplicaStartRole;
  name: string;
  /** The other replica's name: the backup (for a primary) or the primary. */
  peer: string;
  /** A primary that serves alone from the start (no backup yet; one may join later). */
  alone?: boolean;
  switchAt: Endpoint;
  /**
   * Attach to a TAP device on this host's bridge (through socat) instead of the switch:
   * the replicated stack is then an Ethernet host with the service MAC (default
   * serviceMacFor(service), the same on every replica) on a /prefixLength segment.
   */
  tap?: { port: number; socatPort: number; prefixLength: number; mac?: MacAddr; gateway?: Ipv4Addr };
  /** The local UDP address of the link to the switch (--bind). Default 127.0.0.1:0. */
  bind?: Endpoint;
  arbiterAt: Endpoint;
  /** etcd arbiter (--arbiter etcd://...): its client endpoints; when set, arbiterAt is not used. */
  arbiterEtcd?: Endpoint[];
  /** etcd arbiter: L, client packets are held from the last successful contact + L. Default 1000 ms. */
  etcdContactTimeoutMs?: number;
  logListen?: Endpoint;
  logPeer?: Endpoint;
  service: Ipv4Addr;
  servicePort: number;
  app: AppName;
  /** Run seed; every replica of a pair must use the same (stack seed, bulk stream). */
  seed: number;
  bulkBytes: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax: the failure detector stretches D up to this after long silences of a live peer (failure-detector.ts). Default D. */
  failureTimeoutMaxMs?: number;
  /** S: the failure detector's bound during a peer's start-up (failure-detector.ts). Default: startupBoundMs(). */
  failureTimeoutStartMs?: number;
  outputRule: boolean;
  /**
   * `ftcp experiment modes --real` only (`--unsafe-output-mode`): an output mode other than the
   * output rule (src/replica/output-mode.ts); wins over outputRule. `ftcp serve` never sets it.
   */
  outputMode?: OutputMode;
  captureDir?: string;
  /** also stream the wire capture live (needs captureDir) */
  live?: LiveCapture;
  mtu?: number;
  /** The most connections the replicated stack holds (--max-connections); default the stack's (10000). Both replicas must agree. */
  maxConnections?: number;
  /** The stack's profile (StackConfig.profile); both replicas must agree. Default 'rfc'. */
  profile?: StackProfile;
  /** How long start() waits for the switch, the arbiter and (backup/join) the primary. */
  startTimeoutMs?: number;
  /** upstream: each replica's own instance of the app; the RSM runs no built-in app. */
  upstream?: Endpoint;
  /** upstream: an app that has not accepted a connection by then is reset towards the client. Default 5000. */
  upstreamConnectTimeoutMs?: number;
  /** Authenticate the log channel and the embedded arbiter with this key; none: anyone may connect. */
  clusterKey?: ClusterKey | undefined;
  /** upstream: 'redis': one RESP command at a time, in log order (resp-sequencer.ts); 'stateless': a generic app a backup may join without its state (upstream-adapter.ts). */
  upstreamApp?: 'redis' | 'stateless';
  /**
   * Runs before the replica serves, so that the JIT has compiled the hot paths (the CLI
   * passes src/lab/warm-up.ts): on a busy machine the first packets of a cold process can
   * block it for longer than the failure timeout, and its peer would rightly take that for
   * a crash.
   */
  warmUp?: (app: AppName, upstream: boolean) => void;
}

/** S when not given: the first second of a pair on a busy machine has left a live peer silent for 200 ms. */
export const DEFAULT_FAILURE_TIMEOUT_START_MS = 500;

/** S, the start-up bound a replica process uses: as given, else 500 ms or Dmax (D when no Dmax), whichever is longer. */
export function startupBoundMs(o: Pick<ReplicaProcessOptions, 'failureTimeoutMs' | 'failureTimeoutMaxMs' | 'failureTimeoutStartMs'>): number {
  return o.failureTimeoutStartMs ?? Math.max(DEFAULT_FAILURE_TIMEOUT_START_MS, o.failureTimeoutMaxMs ?? o.failureTimeoutMs);
}

/** --max-connections: the stack's own default, and the most a replica accepts (a replica holds ~2.5 KiB per idle connection). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const MAX_MAX_CONNECTIONS = 1_000_000;

/** The RSM configuration both replicas of a run derive from the same flags (as the simulator does). */
export function replicaRsmConfig(o: Pick<ReplicaProcessOptions, 'service' | 'servicePort' | 'app' | 'seed' | 'bulkBytes' | 'upstream' | 'mtu' | 'tap' | 'maxConnections' | 'profile'>): RsmConfig {
  return {
    // The stack announces the link's MTU - 40 as its MSS (one segment per datagram up
    // to the link's size, not 1460 bytes in a 65000-byte link).
    stack: { addresses: [o.service], seed: deriveSeed(o.seed, 'service-stack'), mtu: o.mtu ?? DEFAULT_MTU, ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}), ...(o.profile !== undefined ? { profile: o.profile } : {}) },
    servicePort: o.servicePort,
    app: o.upstream !== undefined ? 'upstream' : o.app, // upstream
    appOptions: { bulkBytes: o.bulkBytes, seed: deriveSeed(o.seed, 'bulk') },
    digestEvery: 1024,
    ...(o.tap !== undefined ? { ethernet: { prefixLength: o.tap.prefixLength, mac: o.tap.mac ?? serviceMacFor(o.service), ...(o.tap.gateway !== undefined ? { gateway: { address: o.tap.gateway } } : {}) } } : {}),
  };
}

/** A replica's virtual address, for captures: a..z are 192.0.2.11.., other names hash into 192.0.2.128..253. */
export function replicaVirtualAddress(name: string): Ipv4Addr {
  if (/^[a-z]$/.test(name)) return parseIpv4Addr(`192.0.2.${11 + name.charCodeAt(0) - 97}`);
  return parseIpv4Addr(`192.0.2.${128 + (crc32(new TextEncoder().encode(name)) % 126)}`);
}

/** Opens a TCP connection to `at` and closes it: proves something listens there. */
export function probeTcp(at: Endpoint, what: string, flag: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: at.host, port: at.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LinkError(describeConnectError(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }), at, what, flag)));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new LinkError(describeConnectError(error, at, what, flag)));
    });
  });
}

/** The Replica's options (src/replica/outbox.ts) from a replica host's, with its RSM configuration. */
export function replicaOptions(o: ReplicaProcessOptions, rsm: RsmConfig): ReplicaOptions {
  return {
    name: o.name,
    rsm,
    factory: stackFactory,
    heartbeatMs: o.heartbeatMs,
    failureTimeoutMs: o.failureTimeoutMs,
    ...(o.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: o.failureTimeoutMaxMs } : {}),
    failureTimeoutStartMs: startupBoundMs(o), // a pair's start-up: the detector waits at least S
    outputRule: o.outputRule,
    ...(o.outputMode !== undefined ? { outputMode: o.outputMode } : {}),
    ...(o.upstream !== undefined && o.upstreamApp !== undefined ? { upstreamAdapter: o.upstreamApp } : {}), // upstream join
  };
}
