// The log channel cut between live replicas, the arbiter down during a failover, and the
// arbiter away and back before one (the replicas' kept arbiter connections), with real
// processes (src/lab/live-cluster.ts). Timing as in live-helpers.ts (D 300 ms); nothing
// asserts a duration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { Child } from '../../src/lab/children.js';
import { LiveCluster, readWireView, splitBrainEpochs } from '../../src/lab/live-cluster.js';
import { TcpRelay } from '../../src/lab/tcp-relay.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { sleep } from '../helpers/net.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-partition-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
let relay: TcpRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
  await cluster?.stop();
  cluster = undefined;
});

/** A pair serving the counter app to 3 connections, mid-stream. */
async function counterPair(name: string, seed: number): Promise<{ a: Child; b: Child; client: Child }> {
  cluster = new LiveCluster({ dir: join(root, name), app: 'counter', seed, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
  await cluster.startNetwork();
  const a = await cluster.startReplica('a', 'primary', 'b');
  const b = await cluster.startReplica('b', 'backup', 'a', 'a');
  await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
  const client = await cluster.startClient('client', { connections: 3, progressMs: 20, requests: '150-200', thinkMs: '5-15', timeoutMs: 120_000 });
  await client.waitFor(midStream, 30_000, 'the first bytes');
  return { a, b, client };
}

describeWithDist('partitions and an absent arbiter, with real processes', [...LIVE_SOURCES, 'net/arbiter-client'], () => {
  it('log channel cut: exactly one replica goes on, chosen by the arbiter; the streams stay intact', async () => {
    cluster = new LiveCluster({ dir: join(root, 'cut'), app: 'echo', seed: 3, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    relay = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: cluster.logPorts.get('a')! });
    const b = await cluster.startReplica('b', 'backup', 'a', undefined, {}, relay.local.port);
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const client = await cluster.startClient('client', { connections: 3, progressMs: 20, requests: '80-100', thinkMs: '5-15' });
    await client.waitFor(midStream, 30_000, 'the first bytes');
    relay.cut();

    // One wins the test-and-set of epoch 1; the loser fences itself (a) or stops (b) and exits.
    const ended = await Promise.race([
      a.waitFor((e) => e.event === 'fenced', 30_000, 'a fenced').then(() => 'a'),
      b.waitFor((e) => e.event === 'stopped', 30_000, 'b stopped').then(() => 'b'),
    ]);
    const winner = ended === 'a' ? b : a;
    const loser = ended === 'a' ? a : b;
    await loser.exited;
    expect(loser.exit?.code).toBe(0);
    expect(winner.events.some((e) => e.event === 'won' && e['epoch'] === 1)).toBe(true);
    expect(loser.events.some((e) => e.event === 'lost' && e['epoch'] === 1)).toBe(true);
    expect(winner.running).toBe(true);

    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0 });
    await cluster.stop();
    expect(splitBrainEpochs(['a', 'b'].map((n) => readWireView(cluster!.capturePaths(n).wire)))).toEqual([]);
  }, 240_000);

  it('arbiter down when the primary dies: nobody changes role, the clients wait, and carry on once it is back', async () => {
    const { a, b, client } = await counterPair('arbiter', 4);
    await cluster!.arbiter.stop();
    process.kill(a.pid, 'SIGKILL');

    await b.waitFor((e) => e.event === 'suspect', 30_000, 'b suspecting a');
    await b.waitFor((e) => e.event === 'arbiter-error', 30_000, 'b failing to reach the arbiter');
    await sleep(1000);
    expect(b.events.some((e) => e.event === 'live' || e.event === 'won')).toBe(false);
    expect(client.events.some((e) => e.event === 'result')).toBe(false);

    await cluster!.restartArbiter();
    const live = await b.waitFor((e) => e.event === 'live', 60_000, 'b going live once the arbiter is back');
    expect(live['epoch']).toBe(2);
    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
  }, 240_000);

  // The replicas keep their arbiter connection open before they need it (arbiter-client.ts
  // keepConnected): while the arbiter is away their background attempts fail, counted and
  // never printed, and once it is back they must not stand in a failover's way.
  it('arbiter away for a while, then back; primary killed -9: the backup takes over, and its failed background attempts print nothing', async () => {
    const { a, b, client } = await counterPair('kept', 6);
    await cluster!.arbiter.stop();
    await sleep(2500); // long enough for the background backoff to reach its longest delay (1 s)
    await cluster!.restartArbiter();
    process.kill(a.pid, 'SIGKILL');

    expect((await b.waitFor((e) => e.event === 'won', 60_000, 'b winning the test-and-set'))['epoch']).toBe(1);
    expect(await b.waitFor((e) => e.event === 'live', 60_000, 'b going live')).toMatchObject({ epoch: 2, reason: 'failover' });
    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
    await cluster!.stop();
    expect(b.events.filter((e) => e.event === 'arbiter-error')).toEqual([]);
    const stats = b.events.find((e) => e.event === 'exit')?.['stats'] as { arbiter: { backgroundFailures: number; connects: number } } | undefined;
    expect(stats?.arbiter.backgroundFailures).toBeGreaterThan(0);
    expect(stats?.arbiter.connects).toBeGreaterThanOrEqual(2);
    expect(splitBrainEpochs(['a', 'b'].map((n) => readWireView(cluster!.capturePaths(n).wire)))).toEqual([]);
  }, 240_000);
});
