/**
 * The upstream app of each replica host on the LAN lab (`--app http`, `--app redis`): as a
 * hypervisor host runs its own copy of what the VM talks to, each replica host runs its own
 * instance of the app, on that host's loopback (its namespace's 127.0.0.1:LAN_UPSTREAM_PORT),
 * and its replica's `--upstream` points there. HTTP is the Node server of upstream-servers.ts
 * as a process (http-upstream-main.ts); Redis is Debian's redis-server (redis-server.ts).
 * Both are stopped by pid; the host's namespace going away kills what is left.
 */
import { startLabMain } from './lan-delay.js';
import type { Lan } from './lan.js';
import type { Helper } from './netns.js';
import { RedisServer } from './redis-server.js';

export type LanUpstreamApp = 'http' | 'redis';
/** The app's port on each replica host's own loopback. */
export const LAN_UPSTREAM_PORT = 9700;

export interface LanUpstream {
  readonly host: string;
  readonly app: LanUpstreamApp;
  readonly pid: number;
  /** What the replica's --upstream is (in its own namespace). */
  readonly address: string;
  /** The redis-server, for asking it after the run; undefined for HTTP. */
  readonly redis: RedisServer | undefined;
  stop(): Promise<void>;
}

export async function startLanUpstream(lan: Lan, host: string, app: LanUpstreamApp, timeoutMs: number): Promise<LanUpstream> {
  const netns = lan.host(host).netns;
  const address = `127.0.0.1:${LAN_UPSTREAM_PORT}`;
  if (app === 'redis') {
    const redis = await RedisServer.start(host, { netns, port: LAN_UPSTREAM_PORT, timeoutMs });
    return { host, app, pid: redis.pid, address, redis, stop: () => redis.stop() };
  }
  const helper: Helper = await startLabMain(netns, 'http-upstream-main.js', ['127.0.0.1', String(LAN_UPSTREAM_PORT)], timeoutMs, 'the HTTP upstream app');
  return { host, app, pid: helper.pid, address, redis: undefined, stop: () => helper.stop('SIGTERM', 1000) };
}
