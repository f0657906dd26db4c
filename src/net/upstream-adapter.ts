/**
 * Joining a new backup when the service is an upstream app (DESIGN.md "Joining",
 * "Upstream apps"). The RSM snapshot carries the TCP state and the bridge's queues, but the
 * app's own state lives in the primary's app instance: the joiner's instance must become a
 * copy of it, as of the snapshot's index k, before the joiner replays entries from k + 1.
 * Only the app knows how (Redis: its own replication, REPLICAOF then a full sync), so that
 * is an adapter, one per kind of app:
 *
 *   primary, at a join request:  pause feeding client bytes upstream, wait until the app has
 *                                answered everything it was sent (quiescent), exportState(),
 *                                take the RSM snapshot at k (it carries the export and the
 *                                client bytes the app has not been sent), resume once
 *                                released() says the joiner's copy no longer follows;
 *   joiner, after restoring:     hold client bytes back from its own instance, importState(),
 *                                open one upstream connection per client connection in the
 *                                snapshot (an app with per-connection state beyond that
 *                                would need the adapter to set it up again), then feed it
 *                                the held bytes and everything from k + 1.
 *
 * The sans-I/O side only knows whether an adapter is configured (ReplicaOptions.
 * upstreamAdapter): without one, the primary refuses the join and a joiner refuses to start,
 * both with UPSTREAM_JOIN_REFUSED (src/replica/primary.ts), never a silent inconsistency.
 * With an adapter the primary's join is two-step (a `join-prepare` event, then
 * Replica.completeUpstreamJoin with the exported state, which rides in the snapshot); the
 * driver's side is upstream-join.ts. The adapters: Redis's (redis-adapter.ts,
 * `ftcp replica --upstream-app redis`), and the stateless one (`--upstream-stateless`): the
 * operator asserts that the app keeps no state a joiner's instance would lack (a stateless
 * HTTP server), so nothing is exported, nothing is paused, and the joiner only opens its
 * own connections. Any other upstream app still cannot take a joiner.
 */
import type { Endpoint } from './endpoint.js';
import { RedisStateAdapter } from './redis-adapter.js';

export interface UpstreamStateAdapter {
  /** Its name, as in ReplicaOptions.upstreamAdapter (e.g. 'redis'). */
  readonly name: string;
  /** The app has no state to copy: the join needs no pause, so no sequencer (the driver skips both). */
  readonly stateless?: boolean;
  /** Primary: a description of the app's state that importState can rebuild (or where to replicate it from). */
  exportState(primaryApp: Endpoint): Promise<Uint8Array>;
  /**
   * Primary, after the snapshot went out: resolves once its app may take new writes again
   * (Redis: the joiner's copy is complete and detached); until then the driver keeps it paused.
   */
  released(primaryApp: Endpoint, exported: Uint8Array): Promise<void>;
  /** Joiner: make the local instance a copy of the exported state; resolves once it is. */
  importState(localApp: Endpoint, exported: Uint8Array): Promise<void>;
}

/**
 * `--upstream-stateless`: the operator's word that the upstream keeps no state across
 * requests (nor per connection beyond one request), so a joiner's own instance is as good
 * as the primary's the moment it opens its connections. The risk, stated in the help and
 * docs/decisions.md: a request in progress on a connection at the join reaches only the
 * primary's instance, and the joiner's copy of that connection counts a divergence.
 */
export class StatelessAdapter implements UpstreamStateAdapter {
  readonly name = 'stateless';
  readonly stateless = true;
  exportState(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(0));
  }
  released(): Promise<void> {
    return Promise.resolve();
  }
  importState(): Promise<void> {
    return Promise.resolve();
  }
}

/** The adapters this build knows, by name. */
export const UPSTREAM_ADAPTERS: ReadonlyMap<string, UpstreamStateAdapter> = new Map<string, UpstreamStateAdapter>([
  ['redis', new RedisStateAdapter()],
  ['stateless', new StatelessAdapter()],
]);
