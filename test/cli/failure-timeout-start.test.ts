// --failure-timeout-start-ms (S, the failure detector's start-up allowance) on `ftcp chaos`
// and `ftcp bench`: parsed by the real program, checked (one clear line and exit 2 for a bad
// value), and carried to the argv of the replicas the lab would start, which the replica's
// own command parses back to S. Nothing is started.
import { describe, expect, it } from 'vitest';
import { benchOptions, type BenchFlags } from '../../src/cli/bench.js';
import { chaosOptions, type ChaosFlags } from '../../src/cli/chaos.js';
import { parseReplicaFlags } from '../../src/cli/replica.js';
import { failoverPair } from '../../src/lab/bench-run.js';
import { pairClusterOptions } from '../../src/lab/bench-cluster.js';
import { DEFAULT_FAULTS, planTrial, trialClusterOptions } from '../../src/lab/chaos-trial.js';
import { LiveCluster, type LiveClusterOptions } from '../../src/lab/live-cluster.js';
import { cli } from './cli-helpers.js';
import { parseWithProgram } from '../helpers/parse-cli.js';

/** S as the replica `name` of a cluster with these options would get it from its argv. */
async function replicaS(options: LiveClusterOptions, role: 'primary' | 'backup'): Promise<number | undefined> {
  const cluster = new LiveCluster({ ...options, clusterKey: false });
  // the ports startNetwork() would have learnt from the arbiter's and the switch's listening lines
  cluster.arbiterPort = 9401;
  cluster.switchPort = 9400;
  const argv = cluster.replicaArgs(role === 'primary' ? 'a' : 'b', role, role === 'primary' ? 'b' : 'a', role === 'backup' ? '127.0.0.1:9402' : undefined);
  const r = await parseWithProgram(argv);
  expect(r.path).toBe('replica');
  return parseReplicaFlags(r.flags as unknown as Parameters<typeof parseReplicaFlags>[0]).failureTimeoutStartMs;
}

describe('ftcp chaos --failure-timeout-start-ms', () => {
  const flagsOf = async (extra: string[]) => (await parseWithProgram(['chaos', '--seed', '3', ...extra])).flags as unknown as ChaosFlags;
  it('reaches both replicas of a trial', async () => {
    const o = chaosOptions(await flagsOf(['--failure-timeout-ms', '300', '--failure-timeout-start-ms', '1500']), { nowMs: () => 0 });
    expect(o.failureTimeoutStartMs).toBe(1500);
    const cluster = trialClusterOptions(planTrial({ seed: o.seed, faults: DEFAULT_FAULTS, momentMaxMs: o.momentMaxMs }, 1), o, '/tmp/ftcp-unused');
    expect(await replicaS(cluster, 'primary')).toBe(1500);
    expect(await replicaS(cluster, 'backup')).toBe(1500);
  });
  it('without it the replicas choose S themselves', async () => {
    const o = chaosOptions(await flagsOf([]), { nowMs: () => 0 });
    expect(o.failureTimeoutStartMs).toBeUndefined();
    expect(await replicaS(trialClusterOptions(planTrial({ seed: 3, faults: DEFAULT_FAULTS, momentMaxMs: 400 }, 1), o, '/tmp/ftcp-unused'), 'backup')).toBeUndefined();
  });
  it.each([
    [['--failure-timeout-start-ms', '100'], /^error: --failure-timeout-start-ms \(100\) must be at least --failure-timeout-ms \(300\)\n$/],
    [['--failure-timeout-max-ms', '900', '--failure-timeout-start-ms', '600'], /^error: --failure-timeout-start-ms \(600\) must be at least --failure-timeout-max-ms \(900\)\n$/],
    [['--failure-timeout-start-ms', 'soon'], /^error: --failure-timeout-start-ms must be a number of milliseconds from 0 to 600000, got soon\n$/],
  ])('refuses %j with one line and exit 2', async (extra, message) => {
    const r = await cli(['chaos', '--trials', '1', ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
  it('is in the help', async () => {
    expect((await cli(['chaos', '--help'])).stdout).toMatch(/--failure-timeout-start-ms <ms>\s+S: in the pair's start-up/);
  });
});

describe('ftcp bench --failure-timeout-start-ms', () => {
  const flagsOf = async (extra: string[]) => (await parseWithProgram(['bench', '--only', 'failover', ...extra])).flags as unknown as BenchFlags;
  it('reaches both replicas of every failover trial', async () => {
    const o = benchOptions(await flagsOf(['--failure-timeout-max-ms', '200', '--failure-timeout-start-ms', '800']));
    expect(o.failureTimeoutStartMs).toBe(800);
    const pair = failoverPair(o);
    expect(pair).toMatchObject({ failureTimeoutMaxMs: 200, failureTimeoutStartMs: 800 });
    expect(await replicaS(pairClusterOptions('/tmp/ftcp-unused', 'bulk', 1, pair), 'primary')).toBe(800);
    expect(await replicaS(pairClusterOptions('/tmp/ftcp-unused', 'bulk', 1, pair), 'backup')).toBe(800);
  });
  it('without it the trials keep the replicas\' own S', async () => {
    const pair = failoverPair(benchOptions(await flagsOf([])));
    expect(pair.failureTimeoutStartMs).toBeUndefined();
    expect(await replicaS(pairClusterOptions('/tmp/ftcp-unused', 'bulk', 1, pair), 'backup')).toBeUndefined();
  });
  it.each([
    [['--failure-timeout-start-ms', '20'], /^error: --failure-timeout-start-ms \(20\) must be at least --failure-timeout-ms \(50\)\n$/],
    [['--failure-timeout-max-ms', '300', '--failure-timeout-start-ms', '200'], /^error: --failure-timeout-start-ms \(200\) must be at least --failure-timeout-max-ms \(300\)\n$/],
    [['--failure-timeout-start-ms', '-1'], /^error: --failure-timeout-start-ms must be a number of milliseconds from 0 to 600000, got -1\n$/],
  ])('refuses %j with one line and exit 2', async (extra, message) => {
    const r = await cli(['bench', '--only', 'failover', ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
  it('is in the help', async () => {
    expect((await cli(['bench', '--help'])).stdout).toMatch(/--failure-timeout-start-ms <ms>\s+failover trials: S: in the pair's start-up/);
  });
});
