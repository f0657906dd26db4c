// Failover, then a new backup joins the survivor by state transfer, then a second failover,
// with real processes and kill -9 (src/lab/live-cluster.ts). Timing as in
// failover-process.test.ts: H 20 ms, D 300 ms on this shared machine; no durations asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster, readWireView, splitBrainEpochs } from '../../src/lab/live-cluster.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-join-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describeWithDist('failover, join, second failover with real processes', LIVE_SOURCES, () => {
  it('counter: c joins b after a dies, then takes over when b dies; the counter stays consecutive', async () => {
    cluster = new LiveCluster({ dir: root, app: 'counter', seed: 5, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const client = await cluster.startClient('client', { connections: 3, progressMs: 20, requests: '250-300', thinkMs: '5-15' });
    await client.waitFor(midStream, 30_000, 'the first bytes');
    process.kill(a.pid, 'SIGKILL');
    await b.waitFor((e) => e.event === 'live', 30_000, 'b going live');

    const c = await cluster.startReplica('c', 'join', 'b', 'b');
    const joined = await c.waitFor((e) => e.event === 'joined', 30_000, 'c joining');
    expect(joined['epoch']).toBe(3);
    await b.waitFor((e) => e.event === 'backup-joined', 30_000, 'b taking c');
    const settledBefore = client.events.filter((e) => e.event === 'progress').pop()?.['settled'];
    expect(settledBefore).toBe(0);
    process.kill(b.pid, 'SIGKILL');
    const live = await c.waitFor((e) => e.event === 'live', 30_000, 'c going live');
    expect(live['epoch']).toBe(4);

    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
    await cluster.stop();
    const views = ['a', 'b', 'c'].map((n) => readWireView(cluster!.capturePaths(n).wire));
    expect(splitBrainEpochs(views)).toEqual([]);
    // a served epoch 1, b epochs 2 (alone) and 3 (with c), c epoch 4.
    expect([...views[0]!.epochs]).toEqual([1]);
    expect([...views[1]!.epochs].every((e) => e === 2 || e === 3)).toBe(true);
    expect([...views[2]!.epochs]).toEqual([4]);
  }, 240_000);

  it('echo: a primary started --alone takes a joining backup under load, then dies; the joiner takes over', async () => {
    cluster = new LiveCluster({ dir: join(root, 'alone'), app: 'echo', seed: 6, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, { alone: true });
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const client = await cluster.startClient('client', { connections: 3, progressMs: 20, requests: '120-150', thinkMs: '5-15' });
    await client.waitFor(midStream, 30_000, 'the first bytes');
    const b = await cluster.startReplica('b', 'join', 'a', 'a');
    expect((await b.waitFor((e) => e.event === 'joined', 30_000, 'b joining'))['epoch']).toBe(2);
    process.kill(a.pid, 'SIGKILL');
    expect((await b.waitFor((e) => e.event === 'live', 30_000, 'b going live'))['epoch']).toBe(3);
    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0 });
  }, 240_000);
});
