/**
 * Profile linux and HyStart++ over a whole lossy transfer: the bytes arrive intact both
 * ways, and the state they add (write ends, interactive mode, HyStart++ rounds) survives
 * snapshot() / restore(), so a backup restored mid-transfer stays in step.
 */
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/tcp/stack.js';
import type { StackConfig } from '../../src/tcp/types.js';
import { TCP_PSH } from '../../src/wire/tcp.js';
import { established, state } from './fixtures.js';
import { bytes, concat, readAll, sameBytes } from './harness.js';

function transfer(config: Partial<StackConfig>): { pshSegments: number; dataSegments: number; restoredDigestsAgree: boolean } {
  const { p, ca, sb } = established({ a: { mslMs: 10, ...config }, b: { mslMs: 10, ...config } });
  let r = 777;
  const rnd = (): number => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let pshSegments = 0;
  let dataSegments = 0;
  p.dropHook = (w) => {
    if (w.from === 'a' && w.seg.payload.length > 0) {
      dataSegments++;
      if (w.seg.flags & TCP_PSH) pshSegments++;
    }
    return rnd() < 0.02;
  };
  const size = 600_000;
  const up = bytes(size, 3);
  const down = bytes(size, 4);
  const sent = { a: 0, b: 0 };
  const got = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const pump = (side: 'a' | 'b'): void => {
    const id = side === 'a' ? ca : sb;
    const src = side === 'a' ? up : down;
    // Writes of 7000 bytes at most: many write ends for profile linux to mark.
    while (sent[side] < size) {
      const n = p.stack(side).write(p.now, id, src.subarray(sent[side], Math.min(size, sent[side] + 7000)));
      sent[side] += n;
      if (n === 0) break;
    }
    if (sent[side] === size) p.stack(side).shutdown(p.now, id);
  };
  p.onEvent = (side, ev) => {
    const id = side === 'a' ? ca : sb;
    if (ev.type === 'writable') pump(side);
    if (ev.type === 'readable') got[side].push(readAll(p.stack(side), p.now, id));
  };
  pump('a');
  pump('b');
  p.runUntil(() => p.now > 300_000 || (sent.a === size && sent.b === size), 200_000);
  expect(concat(got.b).length, 'the snapshot is taken mid-transfer').toBeLessThan(size);
  const restoredDigestsAgree = Stack.restore(p.a.snapshot()).stateDigest() === p.a.stateDigest() && Stack.restore(p.b.snapshot()).stateDigest() === p.b.stateDigest();
  p.runUntil(() => state(p, 'a', ca) === 'CLOSED' && state(p, 'b', sb) === 'CLOSED', 2_000_000);
  expect(sameBytes(concat(got.b), up)).toBe(true);
  expect(sameBytes(concat(got.a), down)).toBe(true);
  expect(p.a.stats().resetsSent + p.b.stats().resetsSent).toBe(0);
  return { pshSegments, dataSegments, restoredDigestsAgree };
}

describe('profiles over a lossy transfer', () => {
  it('profile linux with HyStart++: intact both ways, PSH on many segments, state that snapshots', () => {
    const linux = transfer({ profile: 'linux', hystart: true });
    expect(linux.restoredDigestsAgree).toBe(true);
    const rfc = transfer({});
    expect(rfc.restoredDigestsAgree).toBe(true);
    // rfc marks only the segments that empty the send buffer; linux every chunk and write end.
    expect(linux.pshSegments).toBeGreaterThan(rfc.pshSegments);
    // With loss, PRR and RACK cut many chunks short (no PSH on a chunk the window cuts),
    // so the share is lower than on a clean path; still several times rfc's.
    expect(linux.pshSegments).toBeGreaterThan(linux.dataSegments / 20);
    expect(linux.pshSegments).toBeGreaterThan(2 * rfc.pshSegments);
  });
});
