// bulkConnFromHead: how a real client (which cannot ask the server) recognises which
// server connection's seeded bulk stream it is downloading.
import { describe, expect, it } from 'vitest';
import { streamBytes } from '../../src/proxy/stream.js';
import { BULK_HEAD_BYTES, bulkConnFromHead } from '../../src/sim/cluster-load.js';
import { runCluster } from '../../src/sim/cluster.js';

describe('bulkConnFromHead', () => {
  const seed = 123456;
  it('finds the connection whose stream starts with the head', () => {
    for (const conn of [1, 2, 7, 40]) expect(bulkConnFromHead(seed, streamBytes((seed + conn) >>> 0, 0, BULK_HEAD_BYTES), 64)).toBe(conn);
  });
  it('undefined when no stream matches (wrong bytes, or the connection is beyond the search)', () => {
    const head = streamBytes((seed + 9) >>> 0, 0, BULK_HEAD_BYTES);
    expect(bulkConnFromHead(seed, head, 8)).toBeUndefined();
    head[5] = head[5]! ^ 1;
    expect(bulkConnFromHead(seed, head, 64)).toBeUndefined();
  });
  it('undefined when the head is too short to tell streams apart', () => {
    expect(bulkConnFromHead(seed, new Uint8Array(0), 4)).toBeUndefined();
  });
});

describe('kv loads that delete their keys at the end (kvDeleteAtEnd)', () => {
  it('each connection sends one DEL per key it set after its planned requests, every answer checked, every stream intact', () => {
    const base = { seed: 4, app: 'kv' as const, connections: 2, capture: 'none' as const, noCrash: true };
    const plain = runCluster({ ...base, load: { kvKeyPrefix: 'r1' } });
    const deleting = runCluster({ ...base, load: { kvKeyPrefix: 'r1', kvDeleteAtEnd: true } });
    expect(plain.ok, JSON.stringify(plain.problems)).toBe(true);
    expect(deleting.ok, JSON.stringify(deleting.problems)).toBe(true);
    expect(deleting.streams).toEqual({ intact: 2, broken: 0 });
    for (const [i, c] of deleting.conns.entries()) {
      // The same planned requests (the same seed), then a DEL answered 1 for each of the at most 5 keys it set.
      const extra = c.requests - plain.conns[i]!.requests;
      expect(extra).toBeGreaterThan(0);
      expect(extra).toBeLessThanOrEqual(5);
    }
  });
});
