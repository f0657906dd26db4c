// `ftcp demo failover --app redis`: a real redis-server behind each replica, RESP
// clients sending INCR and SET/GET pairs across a kill -9 of the primary. Checked from the
// JSON report: the shared counter's replies are exactly 1..N, every connection's own counter
// rose by one per reply and every GET returned the value just set (the client checks these
// reply by reply), no reset, and the surviving Redis, asked directly, holds what the client
// last saw. The redis-server processes are gone afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../src/lab/redis-server.js';
import { RedisConnection } from '../../src/net/redis-connection.js';
import { bulkText } from '../../src/net/resp.js';
import { describeRedis } from '../helpers/redis.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { alive, describeWithDist } from '../helpers/process.js';
import { cli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-redis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];
const SOURCES = [...LIVE_SOURCES, 'cli/demo', 'lab/demo/live', 'lab/demo/redis', 'lab/live-cluster', 'net/upstream-sockets', 'net/resp', 'net/resp-sequencer', 'lab/redis-load', 'lab/redis-server'];

describe('ftcp demo failover --app redis: usage', () => {
  it('--sim --app redis is a usage error (real redis-server processes only)', async () => {
    const r = await cli(['demo', 'failover', '--sim', '--app', 'redis']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--app redis runs real redis-server processes; drop --sim/);
  });
});

describeRedis('ftcp demo failover --app redis', () => {
  describeWithDist('real processes, kill -9 of the primary', SOURCES, () => {
    it('--json: INCR replies exactly 1..N, SET/GET pairs, no reset, and the surviving Redis agrees with the client', async () => {
      const r = await cli(['demo', 'failover', '--seed', '11', '--app', 'redis', '--connections', '3', '--kill-after-ms', '300', '--capture-dir', dir, '--json', ...timing]);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(report.problems, r.stdout.slice(-3000)).toEqual([]);
      expect(r.code).toBe(0);
      expect(report).toMatchObject({ ok: true, app: 'redis', streams: { intact: 3, broken: 0 }, resets: 0, splitBrain: 0, divergences: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
      const redis = report.redis;
      expect(redis.incr.exactly1toN).toBe(true);
      expect(redis.incr.replies).toBeGreaterThan(0);
      expect(report.counter).toEqual({ count: redis.incr.replies, consecutive: true });
      expect(redis.perConnection.connections).toBe(3);
      expect(redis.perConnection.incrs).toBe(redis.incr.replies);
      expect(redis.perConnection.setGets).toBeGreaterThan(0);
      expect(redis.survivor).toMatchObject({ replica: 'b', counter: redis.incr.replies, clientLast: redis.incr.replies, agree: true, keysDiffering: 0 });
      expect(redis.survivor.keysChecked).toBeGreaterThan(3);
      // The kill came mid-stream: the client read replies both before it and after b went live.
      const texts: string[] = report.timeline.map((t: { text: string }) => t.text);
      const kill = texts.findIndex((t) => t.startsWith('kill -9 replica a'));
      expect(kill).toBeGreaterThan(0);
      expect(texts.findIndex((t) => t.includes('reads new bytes again'))).toBeGreaterThan(kill);
      // Both redis-server processes were stopped, by pid.
      for (const s of Object.values(redis.servers) as Array<{ pid: number }>) expect(alive(s.pid)).toBe(false);
    }, 240_000);
  });

  it('ftcp kernel-client --app redis: redis-cli clients straight to a redis-server check every reply (no root needed)', async () => {
    const server = await RedisServer.start('direct');
    try {
      const r = await cli(['kernel-client', '--host', '127.0.0.1', '--port', String(server.port), '--app', 'redis', '--connections', '2', '--requests', '20', '--think-ms', '0-2', '--progress-ms', '0', '--json']);
      const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(result.problems).toEqual([]);
      expect(r.code).toBe(0);
      expect(result).toMatchObject({ ok: true, app: 'redis', streams: { intact: 2, broken: 0 }, resets: 0, counter: { consecutive: true } });
      expect(result.redis.conns.map((c: { incrs: number; setGets: number }) => c.incrs + c.setGets)).toEqual([20, 20]);
      const c = await RedisConnection.open(server.endpoint);
      expect((await c.ok(['GET', 'ftcp:counter'])).type).toBe('bulk');
      expect(bulkText(await c.ok(['GET', 'ftcp:counter']))).toBe(String(result.counter.count));
      c.close();
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('ftcp kernel-client --app redis: a connection the server drops is broken, not silently reconnected by redis-cli', async () => {
    const server = await RedisServer.start('drop');
    try {
      const run = cli(['kernel-client', '--host', '127.0.0.1', '--port', String(server.port), '--app', 'redis', '--connections', '2', '--requests', '5000', '--think-ms', '1', '--progress-ms', '0', '--json']);
      const c = await RedisConnection.open(server.endpoint);
      let killed = 0;
      while (killed === 0) {
        await new Promise((r) => setTimeout(r, 100));
        const k = await c.ok(['CLIENT', 'KILL', 'TYPE', 'normal']);
        killed = k.type === 'integer' ? k.value : 0;
      }
      c.close();
      const r = await run;
      const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(r.code).not.toBe(0);
      expect(result.ok).toBe(false);
      expect(result.streams.broken).toBe(killed);
      expect(result.problems.join('\n')).toMatch(/redis-cli: Error: (Server closed the connection|Connection reset by peer)/);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
