// The live demo's Redis check (src/lab/demo/redis.ts): checkRedisRun says which check failed
// when the surviving Redis disagrees with what the client last saw.
import { expect, it } from 'vitest';
import { checkRedisRun } from '../../../src/lab/demo/redis.js';
import { RedisServer } from '../../../src/lab/redis-server.js';
import { RedisConnection } from '../../../src/net/redis-connection.js';
import { describeRedis } from '../../helpers/redis.js';

describeRedis('checkRedisRun', () => {
  it('checkRedisRun says which check failed when the surviving Redis disagrees with the client', async () => {
    const server = await RedisServer.start('b');
    try {
      const c = await RedisConnection.open(server.endpoint);
      await c.ok(['SET', 'ftcp:counter', '10']);
      await c.ok(['SET', 'ftcp:conn:0', '4']);
      await c.ok(['SET', 'ftcp:conn:0:k1', 'v7']);
      c.close();
      // The lecture's example done wrong: the client saw 11, the surviving Redis holds 10.
      const clientResult = { counter: { count: 11, consecutive: true }, redis: { conns: [{ index: 0, counterKey: 'ftcp:conn:0', counter: 4, keys: { 'ftcp:conn:0:k1': 'v8' }, incrs: 4, setGets: 1 }] } };
      const { report, problems } = await checkRedisRun({ b: server }, 'b', clientResult);
      expect(report.survivor).toMatchObject({ replica: 'b', counter: 10, clientLast: 11, agree: false, keysChecked: 2, keysDiffering: 1 });
      expect(problems).toEqual([
        'redis: the surviving Redis (b) holds ftcp:conn:0:k1 = $"v7", the client last saw "v8"',
        'redis: the surviving Redis (b) holds ftcp:counter = 10, the client last saw 11',
      ]);
      const gap = await checkRedisRun({ b: server }, 'b', { ...clientResult, counter: { count: 10, consecutive: false } });
      expect(gap.problems[0]).toBe('redis: the INCR ftcp:counter replies are not exactly 1..10 (a gap or a repeat)');
    } finally {
      await server.stop();
    }
    expect(server.running).toBe(false);
  }, 60_000);
});
