import type { AppName } from '../proxy/app.js';
import { runCluster } from '../sim/cluster.js';

/**
 * Runs a short simulated cluster (stack, RSM, both roles, codecs, the app) in-process before
 * the replica serves, so that the JIT has compiled the hot paths: on a busy machine the
 * first packets of a cold process can block it for longer than the failure timeout, and
 * its peer would rightly take that for a crash. The simulated primary is killed late in
 * the run, so that going live (re-emission, the retransmit entry, the new primary's first
 * entries) is compiled too: a backup runs that code first at the moment it takes over,
 * which is when clients are waiting.
 */
export function warmUp(app: AppName, upstream = false): void {
  runCluster({ seed: 1, app, connections: 2, faults: { crashAtUs: 1_500_000 }, capture: 'none', maxUs: 2_500_000, load: { requests: [10, 10], bulkBytes: 100_000, uploadBytes: [30_000, 30_000] } });
  // upstream: the bridge, the divergence check and app entries too.
  if (upstream) runCluster({ seed: 1, app: 'http', connections: 2, upstream: { app: { kind: 'http' } }, capture: 'none', maxUs: 2_000_000, load: { requests: [10, 10] } });
}
