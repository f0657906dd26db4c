/**
 * Profile linux's send buffer (src/tcp/sndbuf.ts): SO_SNDBUF counts each send buffer's
 * payload plus a fixed overhead, a new buffer opens only below the limit (so the last may
 * pass it), acknowledged buffers are freed, and the state survives snapshot() / restore().
 * Profile rfc holds the size set, in payload bytes.
 */
import { describe, expect, it } from 'vitest';
import { SKB_OVERHEAD } from '../../src/tcp/sndbuf.js';
import { Stack } from '../../src/tcp/stack.js';
import { established } from './fixtures.js';
import { bytes } from './harness.js';

const LIMIT = 10_000;

describe('profile linux send buffer', () => {
  it('takes whole buffers while below SO_SNDBUF, counting each one\'s overhead', () => {
    const { p, ca } = established({ a: { profile: 'linux', sendBufferBytes: LIMIT } });
    p.dropHook = () => true; // nothing is acknowledged: the buffers stay queued
    const n = p.a.write(p.now, ca, bytes(200_000, 1));
    const info = p.a.info(ca);
    expect(info.sendQueueMemory, 'profile linux reports what the queue counts').toBeDefined();
    const overhead = info.sendQueueMemory! - info.unacked;
    expect(overhead % SKB_OVERHEAD).toBe(0);
    expect(overhead / SKB_OVERHEAD).toBeGreaterThanOrEqual(1);
    // The last buffer opened below the limit and was filled past it.
    expect(n).toBeGreaterThan(LIMIT);
    expect(info.sendQueueMemory! - SKB_OVERHEAD - Math.min(n, 65_536)).toBeLessThan(LIMIT);
    expect(info.writable).toBe(0);
    expect(p.a.write(p.now, ca, bytes(1000, 2)), 'no room for another buffer').toBe(0);
    const restored = Stack.restore(p.a.snapshot());
    expect(restored.info(ca).sendQueueMemory).toBe(info.sendQueueMemory);
    expect(restored.stateDigest()).toBe(p.a.stateDigest());
  });

  it('frees the buffers the peer acknowledges', () => {
    const { p, ca } = established({ a: { profile: 'linux', sendBufferBytes: LIMIT } });
    const n = p.a.write(p.now, ca, bytes(30_000, 3));
    expect(n).toBeGreaterThan(0);
    p.settle();
    const info = p.a.info(ca);
    expect(info.unacked).toBe(0);
    expect(info.sendQueueMemory).toBe(0);
    expect(info.writable).toBe(LIMIT);
  });

  it('a buffer holds half the peer\'s largest window, in whole MSS', () => {
    // The peer offers 9000 bytes; SO_SNDBUF of 1 byte lets exactly one buffer open.
    const { p, ca } = established({ a: { profile: 'linux', sendBufferBytes: 1 }, b: { recvBufferBytes: 9_000 } });
    const mss = p.a.info(ca).mss;
    expect(p.a.write(p.now, ca, bytes(50_000, 5))).toBe(Math.floor(4_500 / mss) * mss);
  });
});

describe('profile rfc send buffer', () => {
  it('holds the size set, in payload bytes, and reports no queue memory', () => {
    const { p, ca } = established({ a: { sendBufferBytes: LIMIT } });
    p.dropHook = () => true;
    expect(p.a.write(p.now, ca, bytes(200_000, 4))).toBe(LIMIT);
    expect(p.a.info(ca).sendQueueMemory).toBeUndefined();
  });
});
