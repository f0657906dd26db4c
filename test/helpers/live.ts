// Shared by the process-level failover tests (real processes, src/lab/live-cluster.ts).
import type { ChildEvent } from '../../src/lab/children.js';

/** The built files the children run: the tests skip (or fail under CI) when dist/ is stale. */
export const LIVE_SOURCES = ['cli/main', 'cli/replica', 'cli/client', 'cli/scenario', 'lab/scenario-run', 'lab/launch', 'lab/live-cluster', 'net/replica-host', 'net/replica-options', 'net/service-link', 'lab/load-client', 'lab/real-host', 'sim/cluster-load'];

/**
 * Timing of the process tests: the machine is shared (2 cores, other suites running), and
 * the product's H 10 ms / D 50 ms made false failovers under load there; so H 20 ms and
 * D 300 ms. Nothing asserts a duration.
 */
export const TEST_TIMING = { heartbeatMs: 20, failureTimeoutMs: 300 };

/** The client has read something and no connection has finished: mid-stream. */
export function midStream(e: ChildEvent): boolean {
  return e.event === 'progress' && (e['bytesReceived'] as number) > 0 && e['settled'] === 0;
}
