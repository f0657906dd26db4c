// Joining a backup in front of Redis: the Redis state adapter copies the primary's
// Redis into the joiner's empty one by Redis's own replication (REPLICAOF, full sync, REPLICAOF
// NO ONE), as of the join snapshot's index; then the primary is killed and the joiner's Redis
// carries on. The shared INCR counter's replies must stay exactly 1..N across the join and the
// failover, every connection's own counter must rise by one per reply, every GET must return
// the value just set, and the joiner's Redis must end holding what the client last saw.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { REDIS_COUNTER_KEY, type RedisConnState } from '../../src/lab/redis-load.js';
import { RedisServer } from '../../src/lab/redis-server.js';
import { RedisConnection } from '../../src/net/redis-connection.js';
import { bulkText } from '../../src/net/resp.js';
import { describeRedis } from '../helpers/redis.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-redis-join-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
const servers: RedisServer[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const SOURCES = [...LIVE_SOURCES, 'net/upstream-sockets', 'net/upstream-join', 'net/upstream-adapter', 'net/redis-adapter', 'lab/redis-server', 'lab/redis-load', 'net/resp', 'net/resp-sequencer', 'replica/replica', 'replica/primary', 'replica/rsm', 'proxy/upstream'];
const redisArgs = (s: RedisServer) => ({ upstream: `127.0.0.1:${s.port}`, upstreamApp: 'redis' as const });

async function get(s: RedisServer, key: string): Promise<string | null> {
  const c = await RedisConnection.open(s.endpoint);
  try {
    return bulkText(await c.ok(['GET', key]));
  } finally {
    c.close();
  }
}

describeRedis('joining a backup in front of Redis', () => {
  describeWithDist('the Redis state adapter with real processes and kill -9', SOURCES, () => {
    it('a primary alone under INCR load takes a joiner with an empty Redis, then dies: the counter goes on without a gap', async () => {
      const [ra, rb] = await Promise.all([RedisServer.start('a'), RedisServer.start('b')]);
      servers.push(ra!, rb!);
      cluster = new LiveCluster({ dir: root, app: 'echo', seed: 31, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false });
      await cluster.startNetwork();
      const a = await cluster.startReplica('a', 'primary', 'b', undefined, { alone: true, ...redisArgs(ra!) });
      await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
      const client = await cluster.startClient('client', { app: 'redis', connections: 3, progressMs: 20, requests: '400-500', thinkMs: '3-10', timeoutMs: 120_000 });
      await client.waitFor(midStream, 30_000, 'the first replies');
      // b's Redis starts empty; a's has the counter already.
      expect(await get(rb!, REDIS_COUNTER_KEY)).toBeNull();
      expect(Number(await get(ra!, REDIS_COUNTER_KEY))).toBeGreaterThan(0);

      const b = await cluster.startReplica('b', 'join', 'a', 'a', redisArgs(rb!));
      const exported = await a.waitFor((e) => e.event === 'upstream-join-exported', 30_000, 'a exporting its Redis state');
      const joined = await b.waitFor((e) => e.event === 'joined', 30_000, 'b joining');
      expect(joined['epoch']).toBe(2);
      expect(joined['index']).toBe(exported['index']);
      const imported = await b.waitFor((e) => e.event === 'upstream-imported', 60_000, 'b\'s Redis copying a\'s');
      expect(imported['conns']).toBe(3);
      await a.waitFor((e) => e.event === 'upstream-join-released', 60_000, 'a\'s Redis taking commands again');
      // The load goes on for a while with both Redis instances fed the same commands.
      const bytesAt = (client.events.filter((e) => e.event === 'progress').pop()?.['bytesReceived'] as number) ?? 0;
      await client.waitFor((e) => e.event === 'progress' && (e['bytesReceived'] as number) > bytesAt + 500 && e['settled'] === 0, 60_000, 'replies after the join');
      process.kill(a.pid, 'SIGKILL');
      expect((await b.waitFor((e) => e.event === 'live', 30_000, 'b going live'))['epoch']).toBe(3);

      const result = await client.waitFor((e) => e.event === 'result', 180_000, 'the result');
      expect(result['problems']).toEqual([]);
      expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
      const count = (result['counter'] as { count: number }).count;
      // b's Redis, asked directly, holds what the client last saw: the counter and every key.
      expect(Number(await get(rb!, REDIS_COUNTER_KEY))).toBe(count);
      for (const conn of (result['redis'] as { conns: RedisConnState[] }).conns) {
        expect(Number(await get(rb!, conn.counterKey))).toBe(conn.counter);
        for (const [k, v] of Object.entries(conn.keys)) expect(await get(rb!, k)).toBe(v);
      }
      await cluster.stop();
      expect(b.events.some((e) => e.event === 'divergence' || e.event === 'fault' || e.event === 'upstream-join-failed')).toBe(false);
      const stats = (b.events.find((e) => e.event === 'exit')?.['stats'] as Record<string, Record<string, unknown>>)['upstream'];
      expect(stats).toMatchObject({ divergences: 0, refused: 0 });
      expect((stats!['sequencer'] as { commands: number }).commands).toBeGreaterThan(0);
    }, 300_000);
  });
});
