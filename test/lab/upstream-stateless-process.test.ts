// A generic upstream (a plain HTTP server per replica) and `--upstream-stateless`: after a
// failover the survivor serves alone, and the old primary, restarted with --role join, is
// taken back as its backup (a generic upstream could never get a backup back before). The
// joined replica then proves it is a real backup: the survivor is killed too, and it goes
// live and carries a second load to the end through its own HTTP server. Without the flag,
// a joiner is refused with one line and exit 2 before it starts anything.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { startHttpUpstream, type UpstreamServer } from '../../src/lab/upstream-servers.js';
import { cli } from '../cli/cli-helpers.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-upstream-stateless-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
const servers: UpstreamServer[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SOURCES = [...LIVE_SOURCES, 'net/upstream-sockets', 'net/upstream-join', 'net/upstream-adapter', 'net/handshake-check', 'lab/upstream-servers', 'replica/replica', 'replica/primary', 'replica/rsm', 'proxy/upstream'];
const HTTP_LOAD = { app: 'http' as const, connections: 3, progressMs: 20, requests: '150-200', thinkMs: '3-8', timeoutMs: 120_000 };

it('without --upstream-stateless, a joiner in front of a generic upstream is refused with one line and exit 2', async () => {
  const r = await cli(['replica', '--role', 'join', '--name', 'a', '--peer', 'b', '--log-peer', '127.0.0.1:9403', '--upstream', '127.0.0.1:8080', '--no-capture-dir']);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: --role join with --upstream: the upstream app has no state adapter.*--upstream-stateless/);
  expect(r.stdout).toBe('');
});

it('--upstream-stateless needs a generic --upstream', async () => {
  const none = await cli(['replica', '--role', 'primary', '--name', 'a', '--upstream-stateless', '--no-capture-dir']);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/^error: --upstream-stateless is about an --upstream app/);
  const redis = await cli(['replica', '--role', 'primary', '--name', 'a', '--upstream', '127.0.0.1:6379', '--upstream-app', 'redis', '--upstream-stateless', '--no-capture-dir']);
  expect(redis.code).toBe(2);
  expect(redis.stderr).toMatch(/^error: --upstream-stateless is for a generic upstream/);
});

describeWithDist('a generic upstream with --upstream-stateless, real processes and kill -9', SOURCES, () => {
  it('the old primary rejoins as --role join after a failover, then takes over in its turn', async () => {
    const [ua, ub] = await Promise.all([startHttpUpstream(), startHttpUpstream()]);
    servers.push(ua!, ub!);
    const up = (s: UpstreamServer) => ({ upstream: `127.0.0.1:${s.port}`, upstreamStateless: true });
    cluster = new LiveCluster({ dir: join(root, 'rejoin'), app: 'echo', seed: 41, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, up(ua!));
    const b = await cluster.startReplica('b', 'backup', 'a', 'a', up(ub!));
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');

    // First failover: a dies under HTTP load, b goes on alone.
    const first = await cluster.startClient('client1', HTTP_LOAD);
    await first.waitFor(midStream, 30_000, 'the first responses');
    process.kill(a.pid, 'SIGKILL');
    expect((await b.waitFor((e) => e.event === 'live', 30_000, 'b going live'))['epoch']).toBe(2);
    const firstResult = await first.waitFor((e) => e.event === 'result', 120_000, 'the first result');
    expect(firstResult['problems']).toEqual([]);
    expect(firstResult).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0 });

    // a comes back as a joiner, in front of its own (stateless) HTTP server.
    const a2 = await cluster.startReplica('a', 'join', 'b', 'b', up(ua!));
    const joined = await a2.waitFor((e) => e.event === 'joined', 30_000, 'a joining b');
    expect(joined['epoch']).toBe(3);
    await a2.waitFor((e) => e.event === 'upstream-imported', 30_000, 'a taking the state transfer without app state');
    await b.waitFor((e) => e.event === 'backup-joined', 30_000, 'b taking a as its backup');

    // Second failover: b dies under a new load; a goes live and answers from its own server.
    const requestsBefore = ua!.stats.requests;
    const second = await cluster.startClient('client2', HTTP_LOAD);
    await second.waitFor(midStream, 30_000, 'responses through b with a as backup');
    process.kill(b.pid, 'SIGKILL');
    expect((await a2.waitFor((e) => e.event === 'live', 30_000, 'a going live'))['epoch']).toBe(4);
    const secondResult = await second.waitFor((e) => e.event === 'result', 120_000, 'the second result');
    expect(secondResult['problems']).toEqual([]);
    expect(secondResult).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0 });
    const requests = (secondResult['conns'] as Array<{ requests: number }>).reduce((n, c) => n + c.requests, 0);
    // a's own server saw every request of the second load: fed as a backup, then serving.
    expect(ua!.stats.requests - requestsBefore).toBe(requests);
    await cluster.stop();
    expect(a2.events.some((e) => e.event === 'divergence' || e.event === 'fault' || e.event === 'upstream-join-failed')).toBe(false);
  }, 300_000);
});
