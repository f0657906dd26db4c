/**
 * The `ftcp serve` config file of a replica host of the LAN lab (lan-cluster.ts with
 * `serve`): the production path (docs/deploy.md) on the lab's hosts. Each host's config
 * names the other replica host as its only peer, the TAP device's ports on the host's own
 * loopback, the lab's arbiter (embedded or etcd) and the run's timing; the cluster key comes
 * from the environment the lab gives every child, never from a file here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppName } from '../proxy/app.js';

export interface LanServeConfig {
  name: string;
  /** This host's log channel: <host address>:<port>. */
  logListen: string;
  peer: { name: string; address: string };
  /** HOST:PORT of `ftcp arbiter`, or etcd://HOST:PORT,... */
  arbiter: string;
  service: string;
  servicePort: number;
  app: AppName;
  seed: number;
  bulkBytes: number;
  mtu: number;
  tap: { port: number; socatPort: number; prefix: number };
  heartbeatMs: number;
  failureTimeoutMs: number;
  rejoinBackoffMs: number;
  startTimeoutMs: number;
  /** timing.etcd-contact-timeout-ms, with an etcd arbiter. */
  etcdContactTimeoutMs?: number;
  captureDir: string;
}

/** The YAML text (docs/examples/ftcp.yaml's keys). */
export function lanServeConfigText(c: LanServeConfig): string {
  return [
    `name: ${c.name}`,
    `service: { address: ${c.service}, port: ${c.servicePort}, app: ${c.app}, seed: ${c.seed}, bulk-bytes: ${c.bulkBytes} }`,
    `arbiter: ${c.arbiter}`,
    `log: { listen: ${c.logListen}, peers: [ { name: ${c.peer.name}, address: ${c.peer.address} } ] }`,
    `network: { tap: { port: ${c.tap.port}, socat-port: ${c.tap.socatPort}, prefix: ${c.tap.prefix} } }`,
    `timing: { heartbeat-ms: ${c.heartbeatMs}, failure-timeout-ms: ${c.failureTimeoutMs}, rejoin-backoff-ms: ${c.rejoinBackoffMs}, start-timeout-ms: ${c.startTimeoutMs}${c.etcdContactTimeoutMs !== undefined ? `, etcd-contact-timeout-ms: ${c.etcdContactTimeoutMs}` : ''} }`,
    `mtu: ${c.mtu}`,
    `capture-dir: ${JSON.stringify(c.captureDir)}`,
    '',
  ].join('\n');
}

/** Writes <dir>/serve-<name>-<run>.yaml (the capture directory made too); its path. */
export function writeLanServeConfig(dir: string, run: number, c: LanServeConfig): string {
  mkdirSync(c.captureDir, { recursive: true });
  const path = join(dir, `serve-${c.name}-${run}.yaml`);
  writeFileSync(path, lanServeConfigText(c));
  return path;
}
