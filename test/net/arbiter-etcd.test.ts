// The arbiter on a three-member etcd cluster on loopback (src/net/arbiter-etcd.ts,
// etcd-cluster.ts): the test-and-set transaction, contact and the output fence; then
// failover with real processes (as failover-process.test.ts) with etcd members killed.
// Nothing asserts a duration; the waits are bounds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { ArbiterResponse } from '../../src/replica/arbiter.js';
import { EtcdArbiter, etcdEpochKey } from '../../src/net/arbiter-etcd.js';
import type { Child } from '../../src/lab/children.js';
import { EtcdCluster } from '../../src/lab/etcd-cluster.js';
import { LiveCluster, readWireView, splitBrainEpochs } from '../../src/lab/live-cluster.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { describeEtcd } from '../helpers/etcd.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-etcd-'));
let etcd: EtcdCluster | undefined;
const clients: EtcdArbiter[] = [];
let cluster: LiveCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});
afterAll(async () => {
  for (const c of clients) c.close();
  await etcd?.stop();
  rmSync(root, { recursive: true, force: true });
});

function arbiter(service: string, contactTimeoutMs = 1000): EtcdArbiter {
  const c = new EtcdArbiter({ endpoints: etcd!.endpoints(), service, contactTimeoutMs });
  clients.push(c);
  return c;
}

/** Every epoch key of `service`: its value and how often it was written (version). */
async function flags(service: string): Promise<Map<number, { winner: string; version: number }>> {
  const c = arbiter(service);
  const kvs = await c.client.getAll().prefix(`ftcp/${service}/epoch/`).exec();
  c.close();
  return new Map(kvs.kvs.map((kv) => [Number(kv.key.toString().split('/').pop()), { winner: kv.value.toString(), version: Number(kv.version) }]));
}

describeEtcd('the arbiter on etcd', () => {
  beforeAll(async () => {
    etcd = await EtcdCluster.start(join(root, 'etcd'));
  }, 60_000);

  it('exactly one of many concurrent callers wins each epoch; every answer names it', async () => {
    const service = 'race';
    const askers = Array.from({ length: 6 }, () => arbiter(service));
    await Promise.all(askers.map((a) => a.start(10_000)));
    for (let epoch = 1; epoch <= 4; epoch++) {
      // Each asker asks twice at once (a retry racing the first try) and again afterwards.
      const answers = await Promise.all(askers.flatMap((a, i) => [a.testAndSet(epoch, `r${i}`), a.testAndSet(epoch, `r${i}`)]));
      const winners = new Set(answers.map((r: ArbiterResponse) => r.winner));
      expect(winners.size).toBe(1);
      const winner = [...winners][0]!;
      expect(askers.map((_, i) => `r${i}`)).toContain(winner);
      const again = await askers[5]!.testAndSet(epoch, 'late');
      expect(again.winner).toBe(winner);
    }
    expect(askers.reduce((n, a) => n + a.stats.granted, 0)).toBe(4);
    const written = await flags(service);
    expect([...written.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const f of written.values()) expect(f.version).toBe(1);
    expect(etcdEpochKey(service, 3)).toBe('ftcp/race/epoch/3');
  }, 60_000);

  it('services are separate: the same epoch is won once per service', async () => {
    const [x, y] = [arbiter('svc-x'), arbiter('svc-y')];
    await Promise.all([x.start(10_000), y.start(10_000)]);
    expect((await x.testAndSet(1, 'a')).winner).toBe('a');
    expect((await y.testAndSet(1, 'b')).winner).toBe('b');
    expect((await x.testAndSet(1, 'b')).winner).toBe('a');
  }, 30_000);

  it('without a quorum: no answer, output fenced from the last contact; both return with the quorum', async () => {
    const a = arbiter('quorum', 600);
    const events: boolean[] = [];
    a.onContact((inContact) => events.push(inContact));
    await a.start(10_000);
    expect(a.outputAllowed()).toBe(true);
    await etcd!.kill(1);
    await etcd!.kill(2);
    await expect(a.testAndSet(1, 'a', { timeoutMs: 2000 })).rejects.toThrow(/etcd/);
    expect(a.outputAllowed()).toBe(false);
    expect(events).toContain(false);
    const lostAt = a.lastContactMs!;
    etcd!.restart(1);
    etcd!.restart(2);
    await etcd!.waitHealthy(30_000);
    const r = await a.testAndSet(1, 'a', { timeoutMs: 20_000 });
    expect(r.winner).toBe('a');
    expect(a.lastContactMs!).toBeGreaterThan(lostAt);
    expect(a.outputAllowed()).toBe(true);
    expect(events.at(-1)).toBe(true);
    expect((await flags('quorum')).get(1)).toEqual({ winner: 'a', version: 1 });
  }, 90_000);

  describeWithDist('failover with real processes on etcd', [...LIVE_SOURCES, 'net/arbiter-etcd', 'cli/arbiter-flag'], () => {
    const SERVICE = '192.0.2.10';
    // D 1 s, not TEST_TIMING's 300 ms: on this shared machine (load 12 on 2 cores seen) a
    // false failover before the etcd members are killed leaves nothing to test.
    const ETCD_TIMING = { ...TEST_TIMING, failureTimeoutMs: 1000 };

    /** A fresh pair of the service starts at epoch 1: forget the previous test's flags. */
    async function freshPair(name: string): Promise<{ a: Child; b: Child; client: Child }> {
      const c = arbiter(SERVICE);
      await c.client.delete().prefix(`ftcp/${SERVICE}/`).exec();
      c.close();
      cluster = new LiveCluster({ dir: join(root, name), app: 'counter', seed: 5, bulkBytes: 100_000, ...ETCD_TIMING, unsafeNoOutputRule: false, arbiterUrl: etcd!.url() });
      await cluster.startNetwork();
      const a = await cluster.startReplica('a', 'primary', 'b');
      const b = await cluster.startReplica('b', 'backup', 'a', 'a');
      await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
      const client = await cluster.startClient('client', { connections: 3, progressMs: 20, requests: '150-200', thinkMs: '5-15' });
      await client.waitFor(midStream, 30_000, 'the first bytes');
      return { a, b, client };
    }

    /** b went live in epoch 2, the clients saw every stream intact, and etcd holds one flag: epoch 1, b's, written once. */
    async function expectTakeoverByB(b: Child, client: Child): Promise<void> {
      const live = await b.waitFor((e) => e.event === 'live', 60_000, 'go-live');
      expect(live['epoch']).toBe(2);
      const result = await client.waitFor((e) => e.event === 'result', 90_000, 'the result');
      expect(result['problems']).toEqual([]);
      expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
      await cluster!.stop();
      expect(b.exit).toEqual({ code: 0, signal: null });
      expect(splitBrainEpochs([readWireView(cluster!.capturePaths('a').wire), readWireView(cluster!.capturePaths('b').wire)])).toEqual([]);
      expect(await flags(SERVICE)).toEqual(new Map([[1, { winner: 'b', version: 1 }]]));
    }

    it('one etcd member killed: the backup wins epoch 1 and takes over, every stream intact', async () => {
      const { a, b, client } = await freshPair('one-down');
      await etcd!.kill(0);
      process.kill(a.pid, 'SIGKILL');
      await expectTakeoverByB(b, client);
      etcd!.restart(0);
      await etcd!.waitHealthy(30_000);
    }, 180_000);

    it('two etcd members killed, healthy pair: clients wait while output is held, then carry on; no failover', async () => {
      const { a, b, client } = await freshPair('two-down-healthy');
      await etcd!.kill(1);
      await etcd!.kill(2);
      await a.waitFor((e) => e.event === 'arbiter-fenced', 30_000, 'the output fence');
      // Let the client ask for a while (ten progress lines) while the primary holds every answer.
      const from = client.events.length;
      await client.waitFor((e) => client.events.indexOf(e) >= from + 10, 30_000, 'ten progress lines');
      expect(client.events.some((e) => e.event === 'result')).toBe(false);
      etcd!.restart(1);
      etcd!.restart(2);
      const back = await a.waitFor((e) => e.event === 'arbiter-contact', 60_000, 'contact again');
      expect(back['held']).toBeGreaterThan(0);
      const result = await client.waitFor((e) => e.event === 'result', 90_000, 'the result');
      expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
      // Judged before the cluster stops: the replica that exits first closes the log channel,
      // and the other rightly suspects it at once and asks etcd then.
      for (const r of [a, b]) expect(r.events.some((e) => ['suspect', 'won', 'lost', 'live', 'fenced', 'stopped'].includes(String(e.event)))).toBe(false);
      expect(await flags(SERVICE)).toEqual(new Map());
      await cluster!.stop();
      expect(a.exit).toEqual({ code: 0, signal: null });
    }, 240_000);

    it('two etcd members killed: output held from the last contact, nobody changes role; all carry on when they return', async () => {
      const { a, b, client } = await freshPair('two-down');
      await etcd!.kill(1);
      await etcd!.kill(2);
      // The healthy pair: both replicas lose contact and the primary holds its client packets.
      const fenced = await a.waitFor((e) => e.event === 'arbiter-fenced', 30_000, 'the output fence');
      await b.waitFor((e) => e.event === 'arbiter-fenced', 30_000, 'the output fence');
      const killAtMs = Date.now();
      process.kill(a.pid, 'SIGKILL');
      // The backup suspects the primary and asks; without a quorum nobody answers.
      await b.waitFor((e) => e.event === 'suspect', 30_000, 'suspecting the killed primary');
      const suspectAt = b.events.findIndex((e) => e.event === 'suspect');
      await b.waitFor((e) => b.events.indexOf(e) > suspectAt && e.event === 'arbiter-error' && /test-and-set/.test(String(e['message'])), 30_000, 'a failed test-and-set');
      expect(b.events.some((e) => e.event === 'won' || e.event === 'live' || e.event === 'stopped')).toBe(false);
      expect(client.events.some((e) => e.event === 'result')).toBe(false);
      // The primary put nothing on the wire from its fence to its death.
      const sentWhileFenced = readPcapng(new Uint8Array(readFileSync(cluster!.capturePaths('a').wire))).packets.filter(
        (p) => p.comments.some((c) => /O\(\d+\), epoch/.test(c)) && p.timestampUs >= (fenced.atMs as number) * 1000 && p.timestampUs <= killAtMs * 1000,
      );
      expect(sentWhileFenced).toEqual([]);

      etcd!.restart(1);
      etcd!.restart(2);
      await expectTakeoverByB(b, client);
    }, 240_000);
  });
});
