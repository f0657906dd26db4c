// The upstream proxy with real processes: each replica connects every client
// connection to its own plain Node HTTP server on loopback (`ftcp replica --upstream`);
// keep-alive connections carry many requests across a kill -9 of the primary. The client
// (`ftcp client --app http`) checks that every response comes once, whole, in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { startHttpUpstream, type UpstreamServer } from '../../src/lab/upstream-servers.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-upstream-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
const servers: UpstreamServer[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SOURCES = [...LIVE_SOURCES, 'net/upstream-sockets', 'lab/upstream-servers', 'replica/replica', 'replica/rsm', 'proxy/upstream', 'proxy/divergence'];

/** Primary a and backup b, each with `--upstream` to its own server (an address for both when given); waits for a to hold the service. */
async function startPair(name: string, seed: number, upstreams: [UpstreamServer, UpstreamServer] | string) {
  const at = (i: 0 | 1) => (typeof upstreams === 'string' ? upstreams : `127.0.0.1:${upstreams[i].port}`);
  cluster = new LiveCluster({ dir: join(root, name), app: 'echo', seed, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false });
  await cluster.startNetwork();
  const a = await cluster.startReplica('a', 'primary', 'b', undefined, { upstream: at(0) });
  const b = await cluster.startReplica('b', 'backup', 'a', 'a', { upstream: at(1) });
  await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
  return { cluster, a, b };
}

describeWithDist('upstream proxy with real processes and kill -9', SOURCES, () => {
  it('HTTP keep-alive behind both replicas: every response once, in order, across the failover', async () => {
    const [ua, ub] = await Promise.all([startHttpUpstream(), startHttpUpstream()]);
    servers.push(ua!, ub!);
    const { cluster, a, b } = await startPair('http', 21, [ua!, ub!]);
    const client = await cluster.startClient('client', { app: 'http', connections: 4, progressMs: 20, requests: '80-100', thinkMs: '2-10' });
    await client.waitFor(midStream, 30_000, 'the first responses');
    const beforeKill = { a: ua!.stats.requests, b: ub!.stats.requests };
    process.kill(a.pid, 'SIGKILL');

    const live = await b.waitFor((e) => e.event === 'live', 30_000, 'go-live');
    expect(live['epoch']).toBe(2);
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, app: 'http', streams: { intact: 4, broken: 0 }, resets: 0 });
    const requests = (result['conns'] as Array<{ requests: number }>).reduce((n, c) => n + c.requests, 0);
    expect(requests).toBeGreaterThanOrEqual(4 * 80);
    // Each server saw the requests: a until the kill, b all of them (it was fed the same client bytes).
    expect(beforeKill.a).toBeGreaterThan(0);
    expect(ub!.stats.requests).toBe(requests);
    expect(ub!.stats.connections).toBe(4);
    await cluster.stop();
    const exit = b.events.find((e) => e.event === 'exit');
    const upstream = (exit?.['stats'] as Record<string, Record<string, number>> | undefined)?.['upstream'];
    expect(upstream).toMatchObject({ divergences: 0, opened: 4, refused: 0 });
    expect(b.events.some((e) => e.event === 'divergence' || e.event === 'fault')).toBe(false);
  }, 180_000);

  it('a nondeterministic app (each server names itself in a header): the backup counts a divergence per connection, the streams stay intact', async () => {
    const [ua, ub] = await Promise.all([startHttpUpstream({ servedBy: 'a' }), startHttpUpstream({ servedBy: 'b' })]);
    servers.push(ua!, ub!);
    const { cluster, a, b } = await startPair('nondeterministic', 23, [ua!, ub!]);
    const client = await cluster.startClient('client', { app: 'http', connections: 3, requests: '10' });
    const result = await client.waitFor((e) => e.event === 'result', 60_000, 'the result');
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0 });
    await cluster.stop();
    const divergences = b.events.filter((e) => e.event === 'divergence');
    expect(divergences.length).toBe(3);
    expect(new Set(divergences.map((e) => e['conn'])).size).toBe(3);
    // The first difference is the header's value, at the same offset of every connection's stream.
    expect(new Set(divergences.map((e) => e['offset'])).size).toBe(1);
    expect(divergences[0]!['what']).toBe('byte 0x61 logged, 0x62 own');
    const stats = (b.events.find((e) => e.event === 'exit')?.['stats'] as Record<string, Record<string, number>>)['upstream'];
    expect(stats).toMatchObject({ divergences: 3 });
    expect(a.events.some((e) => e.event === 'divergence')).toBe(false);
  }, 120_000);

  it('an upstream that refuses connections: the client gets RST on every connection', async () => {
    // Port 1 on loopback: nothing listens there, the kernel refuses at once.
    const { cluster, a } = await startPair('refused', 22, '127.0.0.1:1');
    const client = await cluster.startClient('client', { app: 'http', connections: 3, requests: '5', timeoutMs: 20_000 });
    const result = await client.waitFor((e) => e.event === 'result', 60_000, 'the result');
    expect(result).toMatchObject({ ok: false, resets: 3 });
    await cluster.stop();
    const exit = a.events.find((e) => e.event === 'exit');
    expect((exit?.['stats'] as Record<string, Record<string, number>>)['upstream']).toMatchObject({ refused: 3 });
  }, 120_000);
});
