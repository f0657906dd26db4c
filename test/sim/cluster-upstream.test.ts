// Cluster runs with an upstream app: one fake app instance per replica
// (src/sim/upstream-fake.ts), the primary killed at a seeded moment.
import { describe, expect, it } from 'vitest';
import { planFaults, runCluster, type ClusterResult } from '../../src/sim/cluster.js';
import type { FakeUpstreamOptions } from '../../src/sim/upstream-fake.js';

function run(seed: number, app: 'echo' | 'counter' | 'kv' | 'http', upstream: FakeUpstreamOptions, extra: { noCrash?: boolean; connections?: number } = {}): ClusterResult {
  return runCluster({ seed, app, connections: extra.connections ?? 4, upstream, capture: 'none', ...(extra.noCrash ? { noCrash: true } : {}) });
}

function brief(r: ClusterResult): string {
  return `seed ${r.seed}: ${r.problems.slice(0, 3).join(' | ')}`;
}

describe('cluster with an upstream app', () => {
  it.each([
    ['counter', 11],
    ['counter', 12],
    ['echo', 13],
    ['echo', 14],
    ['kv', 15],
    ['http', 16],
    ['http', 17],
  ] as const)('%s upstream, seed %i: every stream exact across the kill, no reset, no divergence', (app, seed) => {
    const r = run(seed, app, { app: { kind: app } });
    expect(r.ok, brief(r)).toBe(true);
    expect(r.streams).toEqual({ intact: 4, broken: 0 });
    expect(r.resets).toBe(0);
    expect(r.failover?.liveMs).not.toBeNull();
    expect(r.divergences).toBe(0);
    expect(r.replicationFaults).toEqual([]);
    if (app === 'counter') expect(r.counterAnswers?.consecutive).toBe(true);
  });

  it("a backup whose app is faster than the primary's: its answers beyond the logged prefix continue the streams", () => {
    // a answers after 20 ms, b after 0.1 ms: at the kill, b's app has answered requests whose answers a never logged.
    const results = [21, 22, 23].map((seed) => run(seed, 'counter', { app: { kind: 'counter', delayUs: 20_000 }, perReplica: { b: { delayUs: 100 } } }));
    for (const r of results) {
      expect(r.ok, brief(r)).toBe(true);
      expect(r.counterAnswers?.consecutive).toBe(true);
      expect(r.divergences).toBe(0);
    }
    expect(results.some((r) => (r.upstreamContinuedBytes ?? 0) > 0)).toBe(true);
  });

  it("a backup whose app is slower than the primary's: what it answers late is compared, not sent twice", () => {
    for (const seed of [31, 32]) {
      const r = run(seed, 'kv', { app: { kind: 'kv', delayUs: 100 }, perReplica: { b: { delayUs: 30_000 } } });
      expect(r.ok, brief(r)).toBe(true);
      expect(r.divergences).toBe(0);
    }
  });

  it('a nondeterministic app (each replica counts from elsewhere): divergences detected, counted per connection, streams untouched', () => {
    // A seed whose fault plan cuts no log channel: with no kill, nobody goes live.
    let seed = 41;
    while (planFaults(seed).logPartition !== undefined) seed++;
    const r = run(seed, 'counter', { app: { kind: 'counter' }, perReplica: { b: { counterStart: 1000 } } }, { noCrash: true, connections: 3 });
    expect(r.failovers).toEqual([]);
    expect(r.ok, brief(r)).toBe(true);
    expect(r.streams).toEqual({ intact: 3, broken: 0 });
    expect(r.counterAnswers?.consecutive).toBe(true);
    expect(r.divergences).toBe(3);
    expect(r.divergenceList?.every((d) => d.replica === 'b')).toBe(true);
    expect(new Set(r.divergenceList?.map((d) => d.conn)).size).toBe(3);
    expect(r.replicationFaults).toEqual([]);
  });

  it("an app that answers with its replica's name: every connection diverges at offset 0, the client sees only the primary's answers", () => {
    let seed = 43;
    while (planFaults(seed).logPartition !== undefined) seed++;
    const r = run(seed, 'counter', { app: { kind: 'whoami' } }, { noCrash: true, connections: 3 });
    expect(r.failovers).toEqual([]);
    expect(r.divergences).toBe(3);
    expect(r.divergenceList?.map((d) => [d.replica, d.offset, d.what])).toEqual([
      ['b', 0, 'byte 0x61 logged, 0x62 own'],
      ['b', 0, 'byte 0x61 logged, 0x62 own'],
      ['b', 0, 'byte 0x61 logged, 0x62 own'],
    ]);
    // The counter load rejects the answer "a" (it is not a number): the bytes are a's, undisturbed.
    expect(r.conns.every((c) => /answer "a"/.test(c.error ?? ''))).toBe(true);
    expect(r.replicationFaults).toEqual([]);
  });

  it('a nondeterministic app across a kill: the divergences were reported before the survivor continued the streams', () => {
    const r = run(42, 'counter', { app: { kind: 'counter' }, perReplica: { b: { counterStart: 1000 } } });
    expect(r.failover?.liveMs).not.toBeNull();
    expect(r.divergences).toBeGreaterThan(0);
    expect(r.replicationFaults).toEqual([]);
  });

  it('an app that refuses every connection: each client gets RST, from either replica, with no replication fault', () => {
    for (const noCrash of [true, false]) {
      const r = run(51, 'echo', { app: { kind: 'echo', refuse: true } }, { noCrash });
      expect(r.resets).toBe(4);
      expect(r.replicationFaults).toEqual([]);
      expect(r.divergences).toBe(0);
      expect(r.splitBrain).toBe(0);
    }
  });

  it('an app that resets after 3 answers: every client reads 3 answers then RST', () => {
    const r = run(52, 'counter', { app: { kind: 'counter', resetAfter: 3 } });
    expect(r.resets).toBe(4);
    expect(r.conns.every((c) => c.requests >= 3)).toBe(true);
    expect(r.replicationFaults).toEqual([]);
    expect(r.divergences).toBe(0);
  });

  it('an app that closes after 5 answers: every client reads EOF early, without RST', () => {
    const r = run(53, 'kv', { app: { kind: 'kv', closeAfter: 5 } });
    expect(r.resets).toBe(0);
    expect(r.conns.every((c) => !c.intact && /EOF after 5 of/.test(c.error ?? ''))).toBe(true);
    expect(r.replicationFaults).toEqual([]);
    expect(r.divergences).toBe(0);
  });

  it('refuses a bulk load (the upstream path needs request/response traffic)', () => {
    expect(() => runCluster({ seed: 1, app: 'bulk', connections: 1, upstream: { app: { kind: 'echo' } }, capture: 'none' })).toThrow(/request\/response/);
  });

  it('the same seed gives the same run', () => {
    const a = run(61, 'counter', { app: { kind: 'counter', delayUs: 5_000 }, perReplica: { b: { delayUs: 200 } } });
    const b = run(61, 'counter', { app: { kind: 'counter', delayUs: 5_000 }, perReplica: { b: { delayUs: 200 } } });
    expect(b.timeline).toEqual(a.timeline);
    expect(b.upstreamContinuedBytes).toBe(a.upstreamContinuedBytes);
  });
});
