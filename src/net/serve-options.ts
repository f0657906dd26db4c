/**
 * From a validated `ftcp serve` config (serve-config.ts) to the options of one run of the
 * replica host (replica-host.ts), in the role the supervisor chose for this run: the
 * first primary alone, or a backup joining a live peer's log channel. Pure.
 */
import { parseMac } from '../wire/ethernet.js';
import type { ReplicaProcessOptions } from './replica-options.js';
import type { ServeConfig, ServePeer } from './serve-config.js';

/** `claimed`: the join follows the start claim's answer (the winner's log channel was not probed first). */
export type ServeRun = { role: 'primary' } | { role: 'join'; via: ServePeer; claimed?: boolean };

export function replicaOptionsFor(c: ServeConfig, run: ServeRun): ReplicaProcessOptions {
  const t = c.tap;
  return {
    role: run.role,
    name: c.name,
    // A primary alone has no backup yet; the name is only what its first joiner is called in events.
    peer: run.role === 'join' ? run.via.name : (c.peers[0]?.name ?? `${c.name}-backup`),
    ...(run.role === 'primary' ? { alone: true } : { logPeer: run.via.address }),
    // With a TAP device the switch is not used; the field still needs a value.
    switchAt: c.switchAt ?? c.arbiterAt,
    ...(t !== undefined ? { tap: { port: t.port, socatPort: t.socatPort, prefixLength: t.prefixLength, ...(t.mac !== undefined ? { mac: parseMac(t.mac) } : {}), ...(t.gateway !== undefined ? { gateway: t.gateway } : {}) } } : {}),
    arbiterAt: c.arbiterAt,
    ...(c.arbiterEtcd !== undefined ? { arbiterEtcd: c.arbiterEtcd } : {}),
    ...(c.etcdContactTimeoutMs !== undefined ? { etcdContactTimeoutMs: c.etcdContactTimeoutMs } : {}),
    // Every run listens, so that a new backup can join it once it is live.
    logListen: c.logListen,
    service: c.service.address,
    servicePort: c.service.port,
    app: c.service.app,
    seed: c.service.seed,
    bulkBytes: c.service.bulkBytes,
    heartbeatMs: c.heartbeatMs,
    failureTimeoutMs: c.failureTimeoutMs,
    ...(c.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: c.failureTimeoutMaxMs } : {}),
    ...(c.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: c.failureTimeoutStartMs } : {}),
    outputRule: true,
    ...(c.captureDir !== undefined ? { captureDir: c.captureDir } : {}),
    mtu: c.mtu,
    ...(c.profile !== undefined ? { profile: c.profile } : {}),
    startTimeoutMs: c.startTimeoutMs,
  };
}
