/**
 * Joining a new backup when the service is an upstream app (issue 6; DESIGN.md "Joining",
 * "Upstream apps"). The RSM snapshot carries the TCP state and the bridge's queues, but the
 * app's own state lives in the primary's app instance: the joiner's instance must become a
 * copy of it, as of the snapshot's index k, before the joiner replays entries from k + 1.
 * Only the app knows how (Redis: its own replication, REPLICAOF then a full sync), so that
 * is an adapter, one per kind of app:
 *
 *   primary, at a join request:  pause feeding client bytes upstream, wait until the app has
 *                                answered everything it was sent (quiescent), exportState(),
 *                                take the RSM snapshot at k, resume;
 *   joiner, before restoring:    importState() into its own instance, then open one upstream
 *                                connection per client connection in the snapshot (an
 *                                app with per-connection state needs the adapter to set
 *                                it up again), then replay from k + 1.
 *
 * The sans-I/O side only knows whether an adapter is configured (ReplicaOptions.
 * upstreamAdapter): without one, the primary refuses the join and a joiner refuses to start,
 * both with UPSTREAM_JOIN_REFUSED (src/replica/primary.ts), never a silent inconsistency.
 * No adapter ships yet (Redis's is the first planned); `ftcp replica --role join --upstream`
 * is a usage error until then.
 */
import type { Endpoint } from './endpoint.js';

export interface UpstreamStateAdapter {
  /** Its name, as in ReplicaOptions.upstreamAdapter (e.g. 'redis'). */
  readonly name: string;
  /** Primary: a description of the app's state that importState can rebuild (or where to replicate it from). */
  exportState(primaryApp: Endpoint): Promise<Uint8Array>;
  /** Joiner: make the local instance a copy of the exported state; resolves once it is. */
  importState(localApp: Endpoint, exported: Uint8Array): Promise<void>;
}

/** The adapters this build knows, by name. */
export const UPSTREAM_ADAPTERS: ReadonlyMap<string, UpstreamStateAdapter> = new Map();
