// bulkConnFromHead: how a real client (which cannot ask the server) recognises which
// server connection's seeded bulk stream it is downloading.
import { describe, expect, it } from 'vitest';
import { streamBytes } from '../../src/proxy/stream.js';
import { BULK_HEAD_BYTES, bulkConnFromHead } from '../../src/sim/cluster-load.js';

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
