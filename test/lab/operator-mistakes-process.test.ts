// Operators' mistakes with real processes, each one line and a non-zero exit:
// - a replica started with --role backup against a primary that serves without a backup
//   (started --alone, or live after a failover) neither fences the healthy primary nor stops
//   silently: it stops before any test-and-set, exit 2, with the --role join command;
// - a new pair facing a switch that remembers a higher epoch from an earlier run stops,
//   exit 3, naming what to restart, instead of serving on while clients time out.
// Timing as in live-helpers.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { UdpLink } from '../../src/net/udp-link.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-wrong-role-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describeWithDist('--role backup against a primary that serves alone, with real processes', LIVE_SOURCES, () => {
  it('a primary started --alone: the backup stops with the join command, exit 2; the primary is not fenced', async () => {
    cluster = new LiveCluster({ dir: join(root, 'alone'), app: 'counter', seed: 5, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, { alone: true });
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    const wrong = await b.waitFor((e) => e.event === 'wrong-role', 30_000, 'the wrong-role line');
    expect(String(wrong['message'])).toMatch(/heard nothing from primary a .* run ftcp replica --role join --name b --peer a --log-peer 127\.0\.0\.1:\d+/);
    const status = await b.exited;
    expect(status.code).toBe(2);
    expect(b.stderr).toMatch(/error: ftcp replica b: .*start it with --role join instead/);
    expect(b.events.some((e) => e.event === 'won' || e.event === 'suspect')).toBe(false);
    expect(a.running).toBe(true);
    expect(a.events.some((e) => e.event === 'superseded' || e.event === 'fenced')).toBe(false);
  }, 120_000);

  it('after a failover: the old primary restarted as a backup of the new one gets the same line, exit 2', async () => {
    cluster = new LiveCluster({ dir: join(root, 'after'), app: 'counter', seed: 6, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    a.signal('SIGKILL');
    await b.waitFor((e) => e.event === 'live', 30_000, 'b live');
    const a2 = await cluster.startReplica('a2', 'backup', 'b', 'b');
    await a2.waitFor((e) => e.event === 'wrong-role', 30_000, 'the wrong-role line');
    expect((await a2.exited).code).toBe(2);
    expect(b.running).toBe(true);
    expect(b.events.some((e) => e.event === 'superseded' || e.event === 'fenced')).toBe(false);
  }, 120_000);

  it('a switch that remembers a higher epoch: the new primary stops, exit 3, naming the switch to restart', async () => {
    cluster = new LiveCluster({ dir: join(root, 'stale'), app: 'counter', seed: 7, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    // What an earlier run left in the switch: the service held in epoch 5.
    const old = await UdpLink.open({ peer: { host: '127.0.0.1', port: cluster.switchPort }, retryMs: 20, refreshMs: 200, clusterKey: cluster.clusterKey });
    try {
      const service = parseIpv4Addr('192.0.2.10');
      old.announce(service, 5);
      await old.whenRegistered(service, 10_000);
      const a = await cluster.startReplica('a', 'primary', 'b', undefined, { alone: true });
      const stale = await a.waitFor((e) => e.event === 'stale-epoch', 30_000, 'the stale-epoch line');
      expect(stale['epoch']).toBe(5);
      expect(String(stale['message'])).toMatch(/gives 192\.0\.2\.10 to epoch 5, above this replica's epoch 1: .*restart `ftcp switch`/);
      expect((await a.exited).code).toBe(3);
      expect(a.stderr).toMatch(/error: ftcp replica a: the service address belongs to a higher epoch/);
    } finally {
      await old.close();
    }
  }, 120_000);

  it('replicas started with different seeds: the backup stops at connect with the difference, exit 2; the primary carries on', async () => {
    cluster = new LiveCluster({ dir: join(root, 'seed'), app: 'counter', seed: 8, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a', { seed: 9 });
    const mismatch = await b.waitFor((e) => e.event === 'config-mismatch', 30_000, 'the config-mismatch line');
    expect(mismatch['differences']).toEqual(['seed (--seed): b has 9, a has 8']);
    expect((await b.exited).code).toBe(2);
    expect(b.stderr).toMatch(/error: ftcp replica b: its peer is configured differently/);
    expect(b.events.some((e) => e.event === 'fault' || e.event === 'failed')).toBe(false);
    await a.waitFor((e) => e.event === 'config-mismatch', 30_000, 'the primary\'s line');
    expect(a.running).toBe(true);
  }, 120_000);
});
