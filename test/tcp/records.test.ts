// Record boundaries in the send queue (src/tcp/records.ts, Linux MSG_EOR through write()'s
// `eor`): no segment crosses a record's end, the record's last segment carries PSH, the
// marks replicate (snapshot and digest) and leave no trace once acknowledged, and a
// partial write marks nothing.
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/tcp/stack.js';
import { established } from './fixtures.js';
import { bytes, readAll } from './harness.js';
import { TCP_PSH } from '../../src/wire/tcp.js';

/** Data segments b sent after `from` in the pair's wire log: [relative seq start, length, PSH]. */
function sent(c: ReturnType<typeof established>, from: number): [number, number, boolean][] {
  const iss = c.p.b.info(c.sb).iss;
  return c.p.wire
    .slice(from)
    .filter((w) => w.from === 'b' && w.seg.payload.length > 0)
    .map((w) => [(w.seg.seq - iss) >>> 0, w.seg.payload.length, (w.seg.flags & TCP_PSH) !== 0]);
}

describe('records (write with eor)', () => {
  it('no segment crosses a record end; the record end carries PSH', () => {
    const c = established();
    const mss = c.p.b.info(c.sb).mss;
    const from = c.p.wire.length;
    // Data before the mark shares its segments; the mark ends one short of a full MSS.
    c.p.b.write(c.p.now, c.sb, bytes(mss + 100));
    c.p.b.write(c.p.now, c.sb, bytes(50), false, true);
    c.p.b.write(c.p.now, c.sb, bytes(2 * mss));
    c.p.settle();
    const segs = sent(c, from);
    expect(segs[0]).toEqual([1, mss, false]);
    expect(segs[1]).toEqual([1 + mss, 150, true]);
    expect(segs[2]![0]).toBe(1 + mss + 150);
    expect(readAll(c.p.a, c.p.now, c.ca).length).toBe(3 * mss + 150);
  });

  it('without eor the same writes fill segments across the write boundaries', () => {
    const c = established();
    const mss = c.p.b.info(c.sb).mss;
    const from = c.p.wire.length;
    c.p.b.write(c.p.now, c.sb, bytes(mss + 100));
    c.p.b.write(c.p.now, c.sb, bytes(50));
    c.p.b.write(c.p.now, c.sb, bytes(2 * mss));
    c.p.settle();
    expect(sent(c, from)[1]).toEqual([1 + mss, mss, false]);
  });

  it('the marks snapshot and digest while unacknowledged, and vanish once acknowledged', () => {
    const plain = established();
    const c = established();
    c.p.b.write(c.p.now, c.sb, bytes(100), false, true);
    expect(new TextDecoder().decode(c.p.b.snapshot())).toMatch(/recordEnds/);
    const restored = Stack.restore(c.p.b.snapshot());
    expect(restored.stateDigest()).toBe(c.p.b.stateDigest());
    c.p.settle();
    expect(c.p.b.info(c.sb).unacked).toBe(0);
    expect(new TextDecoder().decode(c.p.b.snapshot())).not.toMatch(/recordEnds/);
    expect(new TextDecoder().decode(plain.p.b.snapshot())).not.toMatch(/recordEnds/);
  });

  it('a write the send buffer takes only in part marks no record', () => {
    const c = established({ b: { sendBufferBytes: 4000 } });
    c.p.b.write(c.p.now, c.sb, bytes(3000));
    expect(c.p.b.write(c.p.now, c.sb, bytes(2000), false, true)).toBe(1000);
    expect(new TextDecoder().decode(c.p.b.snapshot())).not.toMatch(/recordEnds/);
  });
});
