/**
 * The throughput half of the bench's `lan` group: on one LAN of the lab (lan-cluster.ts),
 * kernel clients on host c1 move bulk data through the replicated pair on hosts a and b
 * (TAP devices on their hosts' bridges, the service at 192.0.2.10), and, in the same run
 * over the same bridge, to the kernel's own TCP on host a (`ftcp kernel-server` on a's
 * address). Both sides run the same client (`ftcp kernel-client --app bulk`: every
 * connection downloads the seeded stream and uploads as much at once, every byte checked),
 * alternating round by round so that a busy minute of the machine hits both; the figures
 * are medians over the rounds, and the ratio is pair ÷ kernel.
 */
import { mkdirSync } from 'node:fs';
import { percentile } from '../net/log-rtt.js';
import type { ChildEvent } from './children.js';
import { LanCluster } from './lan-cluster.js';

export interface LanThroughputOptions {
  dir: string;
  /** Bytes each connection downloads, and uploads at the same time. */
  bytes: number;
  connections: number;
  rounds: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
}

export interface LanThroughputRound {
  /** MB/s of both directions through the pair, and kernel to kernel; null when that run broke. */
  pairMBps: number | null;
  kernelMBps: number | null;
  problems: string[];
}

export interface LanThroughput {
  pairMBps: number;
  kernelMBps: number;
  ratio: number;
  rounds: LanThroughputRound[];
  /** A replica suspected its peer or went live during the runs: the pair's figure then holds a failover. */
  falseFailover: boolean;
}

const SEED = 41;

/** One bulk run of `ftcp kernel-client` on c1: MB/s of what it moved both ways, or its problems. */
async function bulkRun(cluster: LanCluster, label: string, o: LanThroughputOptions, at: { host: string; port: number } | undefined): Promise<{ mbps: number | null; problems: string[] }> {
  const client = await cluster.startClient({ app: 'bulk', tool: 'node', seed: SEED, bulkBytes: o.bytes, uploadBytes: o.bytes, connections: o.connections, progressMs: 0, timeoutMs: 300_000, ...(at !== undefined ? { host: at.host, port: at.port } : {}) }, label);
  const result = await client.waitFor((e: ChildEvent) => e.event === 'result', 320_000, 'its result line');
  const problems = (result['problems'] as string[] | undefined) ?? [];
  const elapsedMs = result['elapsedMs'];
  const streams = result['streams'] as { intact?: number } | undefined;
  if (problems.length > 0 || streams?.intact !== o.connections || typeof elapsedMs !== 'number' || elapsedMs <= 0) return { mbps: null, problems: problems.length > 0 ? problems : [`${label}: ${streams?.intact ?? 0} of ${o.connections} streams intact`] };
  return { mbps: (2 * o.bytes * o.connections) / 1e6 / (elapsedMs / 1000), problems: [] };
}

/** Builds one LAN, runs `rounds` alternating pair and kernel bulk runs, removes the LAN. */
export async function lanThroughput(o: LanThroughputOptions, say: (line: string) => void): Promise<LanThroughput> {
  mkdirSync(o.dir, { recursive: true });
  const cluster = await LanCluster.start({ dir: o.dir, app: 'bulk', seed: SEED, bulkBytes: o.bytes, heartbeatMs: o.heartbeatMs, failureTimeoutMs: o.failureTimeoutMs });
  const rounds: LanThroughputRound[] = [];
  let falseFailover = false;
  try {
    for (let i = 0; i < o.rounds; i++) {
      // The kernel's own TCP on host a (on a port of its own each round, a fresh server whose
      // connections count from 1 again): the same bridge, the same hosts.
      const server = await cluster.startKernelServer('a', { app: 'bulk', seed: SEED, bulkBytes: o.bytes }, 7071 + i);
      const kernel = await bulkRun(cluster, `client kernel ${i + 1}`, o, { host: server.address, port: server.port });
      await server.child.stop();
      const pair = await bulkRun(cluster, `client pair ${i + 1}`, o, undefined);
      rounds.push({ pairMBps: pair.mbps, kernelMBps: kernel.mbps, problems: [...pair.problems, ...kernel.problems] });
      const f = (v: number | null) => (v === null ? 'BROKEN' : `${v.toFixed(1)} MB/s`);
      say(`    round ${i + 1}: pair ${f(pair.mbps)}, kernel to kernel ${f(kernel.mbps)}${rounds.at(-1)!.problems.length > 0 ? `; ${rounds.at(-1)!.problems[0]}` : ''}`);
    }
    falseFailover = [...cluster.replicas.values()].some((c) => c.events.some((e) => e.event === 'suspect' || e.event === 'live'));
  } finally {
    await cluster.stop();
  }
  const pair = rounds.flatMap((r) => r.pairMBps ?? []);
  const kernel = rounds.flatMap((r) => r.kernelMBps ?? []);
  const pairMBps = percentile(pair, 50);
  const kernelMBps = percentile(kernel, 50);
  return { pairMBps, kernelMBps, ratio: pairMBps / kernelMBps, rounds, falseFailover };
}
