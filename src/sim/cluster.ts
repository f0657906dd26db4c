/**
 * A cluster run (DESIGN.md, "The replicated state machine", "Testing"): clients, the
 * switch, a primary, a backup, the arbiter, faults, all from one seed.
 *
 *   client 192.0.2.1 --(lossy links)--> switch [192.0.2.10] --> the replica owning the address
 *   replica a 192.0.2.11 (primary)  <--log channel-->  replica b 192.0.2.12 (backup)
 *   arbiter 192.0.2.2 (test-and-set);  replica c 192.0.2.13 joins later in some runs
 *
 * The primary is killed at a seeded moment. The run checks every client stream byte for
 * byte, counts resets, checks that no epoch had two live replicas, and measures the
 * failover from the kill: when the backup suspected it, went live, and when the client
 * first read new bytes. Everything is written to pcapng captures (client, primary, backup,
 * shadow, log) with events as packet comments. The same seed gives byte-identical captures.
 *
 * A run is three steps: plan (cluster-plan.ts: options -> seeds, faults, timing, load),
 * build and run (cluster-build.ts: the world, network, nodes, captures), observe
 * (cluster-observe.ts: the checks and the result).
 */
import { ClusterRun } from './cluster-build.js';
import { observeCluster, type ClusterResult } from './cluster-observe.js';
import { planCluster, type ClusterOptions } from './cluster-plan.js';

export { CLUSTER_ARBITER, CLUSTER_CLIENT, CLUSTER_REPLICAS, CLUSTER_SERVICE, CLUSTER_SERVICE_PORT, clusterCommandLine, planFaults } from './cluster-plan.js';
export type { ClusterOptions, FaultPlan } from './cluster-plan.js';
export type { ClusterDivergence, ClusterFailureKind, ClusterResult, FailoverReport } from './cluster-observe.js';

export function runCluster(options: ClusterOptions): ClusterResult {
  const plan = planCluster(options);
  const run = new ClusterRun(plan);
  const outcome = run.run();
  return observeCluster(plan, run, outcome);
}
