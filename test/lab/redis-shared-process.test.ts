// Both replicas pointed at one Redis would apply every command twice, with one divergence
// line as the only sign. The hello carries each replica's Redis run_id: the second replica
// stops at connect (exit 2) saying so; with a Redis each, the same pair starts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { RedisServer } from '../../src/lab/redis-server.js';
import { describeRedis } from '../helpers/redis.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-redis-shared-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
const servers: RedisServer[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const redisArgs = (s: RedisServer) => ({ upstream: `127.0.0.1:${s.port}`, upstreamApp: 'redis' as const });

describeRedis('two replicas on one Redis', () => {
  describeWithDist('refused at connect, with real processes', [...LIVE_SOURCES, 'net/handshake-check', 'lab/redis-server'], () => {
    it('one Redis for both: the backup stops with the run_id, exit 2; one each: no mismatch', async () => {
      const [shared, other] = await Promise.all([RedisServer.start('shared'), RedisServer.start('other')]);
      servers.push(shared!, other!);
      cluster = new LiveCluster({ dir: join(root, 'shared'), app: 'echo', seed: 41, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false });
      await cluster.startNetwork();
      await cluster.startReplica('a', 'primary', 'b', undefined, redisArgs(shared!));
      const b = await cluster.startReplica('b', 'backup', 'a', 'a', redisArgs(shared!));
      const mismatch = await b.waitFor((e) => e.event === 'config-mismatch', 30_000, 'the config-mismatch line');
      expect(mismatch['differences']).toEqual([expect.stringMatching(/^b and a use one upstream instance \(redis run_id [0-9a-f]{40}\): every command would be applied twice; give each replica its own/)]);
      expect((await b.exited).code).toBe(2);
      await cluster.stop();

      cluster = new LiveCluster({ dir: join(root, 'each'), app: 'echo', seed: 42, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false });
      await cluster.startNetwork();
      const a2 = await cluster.startReplica('a', 'primary', 'b', undefined, redisArgs(shared!));
      const b2 = await cluster.startReplica('b', 'backup', 'a', 'a', redisArgs(other!));
      await a2.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
      await new Promise((r) => setTimeout(r, 500));
      expect([...a2.events, ...b2.events].some((e) => e.event === 'config-mismatch')).toBe(false);
      expect(b2.running).toBe(true);
    }, 120_000);
  });
});
