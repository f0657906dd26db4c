/**
 * What a replica process says about itself: its first event (`started`) and its statistics
 * (the `exit` line's `stats`, serve's metrics). Read from the parts of a ReplicaProcess
 * (replica-host.ts), which stays the one place that drives them.
 */
import { join } from 'node:path';
import type { BulkApp } from '../proxy/app.js';
import type { Replica, ReplicaRoleName } from '../replica/replica.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { ReplicaArbiter } from './arbiter-etcd.js';
import { formatEndpoint } from './endpoint.js';
import type { ReplicaProcessEventFields } from './events.js';
import type { LogChannel } from './log-channel.js';
import type { LogRttProbe } from './log-rtt.js';
import type { ReplicaProcessOptions } from './replica-options.js';
import type { ServiceLink } from './service-link.js';
import type { StallWatch } from './stall-watch.js';
import type { UpstreamSockets } from './upstream-sockets.js';

export interface CapturePaths {
  wire: string | null;
  shadow: string | null;
  log: string | null;
}

/** <dir>/<name>.pcapng, <name>-shadow.pcapng, <name>-log.pcapng, or nulls without --capture-dir. */
export function replicaCapturePaths(opts: ReplicaProcessOptions): CapturePaths {
  const dir = opts.captureDir;
  if (dir === undefined) return { wire: null, shadow: null, log: null };
  return { wire: join(dir, `${opts.name}.pcapng`), shadow: join(dir, `${opts.name}-shadow.pcapng`), log: join(dir, `${opts.name}-log.pcapng`) };
}

/** The first event's fields: where it listens, what it waits for. */
export function startedFields(opts: ReplicaProcessOptions, address: Ipv4Addr, link: ServiceLink, listenCh: LogChannel | undefined): ReplicaProcessEventFields<'started'> {
  return {
    role: opts.role,
    peer: opts.peer,
    alone: opts.alone === true,
    address: formatIpv4Addr(address),
    service: formatIpv4Addr(opts.service),
    link: link.description,
    logListen: listenCh === undefined ? null : formatEndpoint(listenCh.endpoint),
    logListenPort: listenCh?.endpoint.port ?? null,
    logPeer: opts.logPeer === undefined ? null : formatEndpoint(opts.logPeer),
    app: opts.app,
    upstream: opts.upstream === undefined ? null : formatEndpoint(opts.upstream), // upstream
    seed: opts.seed,
    heartbeatMs: opts.heartbeatMs,
    failureTimeoutMs: opts.failureTimeoutMs,
    outputRule: opts.outputRule,
    clusterKey: opts.clusterKey?.toJSON() ?? null,
    captures: replicaCapturePaths(opts),
    pid: process.pid,
  };
}

export interface HostParts {
  roleName: ReplicaRoleName | 'waiting';
  replica: Replica | undefined;
  counts: Record<string, number>;
  link: ServiceLink;
  channel: LogChannel | undefined;
  arbiter: ReplicaArbiter;
  logRtt: LogRttProbe;
  stallWatch: StallWatch | undefined;
  upstream: UpstreamSockets | undefined;
}

/** The statistics of a replica process: counters of every part, by part. */
export function hostStats(h: HostParts): Record<string, unknown> {
  const r = h.replica;
  const role = r?.current;
  return {
    role: h.roleName,
    epoch: r?.epoch ?? null,
    index: r?.rsm?.index ?? null,
    ...h.counts,
    replica: r?.counters ?? null,
    roleCounters: role?.counters ?? null,
    stack: r?.rsm?.stats() ?? null, // drop counters by reason (the fuzzer's report)
    ...(r?.rsm?.etherStats() !== undefined ? { ether: r.rsm.etherStats() } : {}), // on a TAP device: ARP, address conflicts
    link: h.link.stats(),
    logChannel: h.channel?.stats ?? null,
    arbiter: h.arbiter.stats,
    logRtt: h.logRtt.summary(), // bench
    stalls: h.stallWatch?.stats ?? null,
    ...(h.upstream !== undefined ? { upstream: { ...h.upstream.stats, divergences: r?.divergence?.count ?? 0, continuedBytes: r?.counters.upstreamContinuedBytes ?? 0, ...(h.upstream.sequencer !== undefined ? { sequencer: h.upstream.sequencer.stats } : {}) } } : {}), // upstream
    ...(r?.rsm?.appName === 'bulk' ? { bulkUploads: Object.fromEntries((r.rsm.appState as BulkApp).finished) } : {}),
  };
}

/**
 * When a replica's test-and-set was asked first, written to the arbiter and answered (wall
 * clock ms): the `won` line's timings, which the switchover bench reads.
 */
export class ArbiterTimes {
  private ask: { epoch: number; atMs: number } | undefined;
  private answeredAtMs: number | undefined;

  constructor(private readonly arbiter: ReplicaArbiter) {}

  /** A request for `epoch` goes to the arbiter (the first one for an epoch is kept). */
  asked(epoch: number, nowMs: number): void {
    if (this.ask?.epoch !== epoch) this.ask = { epoch, atMs: nowMs };
  }

  answered(nowMs: number): void {
    this.answeredAtMs = nowMs;
  }

  /** The `won` line's fields for `epoch`. */
  won(epoch: number): ReplicaProcessEventFields<'won'> {
    const askedAtMs = this.ask?.epoch === epoch ? this.ask.atMs : undefined;
    const sentAtMs = this.arbiter.answeredRequestSentAtMs?.();
    return { epoch, ...(askedAtMs !== undefined ? { askedAtMs } : {}), ...(sentAtMs !== undefined ? { sentAtMs } : {}), ...(this.answeredAtMs !== undefined ? { answeredAtMs: this.answeredAtMs } : {}) };
  }
}
