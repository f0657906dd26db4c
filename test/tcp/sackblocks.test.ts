/**
 * The SACK blocks a receiver reports (RFC 2018 §4) and D-SACK (RFC 2883): the helpers on
 * their own, then the invariants of every SACK option a stack sends during a lossy,
 * reordering transfer, and their state across snapshot()/restore().
 */
import { describe, expect, it } from 'vitest';
import { newReassembly, reassemblyInsert } from '../../src/tcp/reassembly.js';
import { heldOverlap } from '../../src/tcp/sackblocks.js';
import { Stack } from '../../src/tcp/stack.js';
import { buildTcpPacket } from '../../src/wire/packet.js';
import { seqGe, seqGt, seqLe, seqLt } from '../../src/wire/seq.js';
import type { SackBlock, TcpSegment } from '../../src/wire/tcp.js';
import { established } from './fixtures.js';
import { A_ADDR, B_ADDR, bytes, drainSegments, readAll, sameBytes, type Wire } from './harness.js';

function sackOf(seg: TcpSegment): SackBlock[] {
  for (const o of seg.options) if (o.kind === 'sack') return o.blocks;
  return [];
}

describe('heldOverlap (RFC 2883 §4.1.3: the duplicated part of out-of-order data)', () => {
  const r = newReassembly();
  reassemblyInsert(r, 100, new Uint8Array(50), 1 << 20); // [100, 150)
  reassemblyInsert(r, 150, new Uint8Array(50), 1 << 20); // [150, 200), adjacent
  reassemblyInsert(r, 300, new Uint8Array(10), 1 << 20); // [300, 310)
  it('finds the first contiguous overlap, across adjacent pieces', () => {
    expect(heldOverlap(r, 120, 180)).toEqual({ left: 120, right: 180 });
    expect(heldOverlap(r, 50, 250)).toEqual({ left: 100, right: 200 });
    expect(heldOverlap(r, 190, 305)).toEqual({ left: 190, right: 200 });
  });
  it('returns undefined when nothing overlaps', () => {
    expect(heldOverlap(r, 200, 300)).toBeUndefined();
    expect(heldOverlap(r, 0, 100)).toBeUndefined();
  });
  it('works across the 2^32 wrap', () => {
    const w = newReassembly();
    reassemblyInsert(w, 0xffff_fff0, new Uint8Array(32), 1 << 20);
    expect(heldOverlap(w, 0xffff_fffa, 4)).toEqual({ left: 0xffff_fffa, right: 4 });
  });
});

describe('SACK options sent during a lossy transfer', () => {
  it('describe held data above the ACK, at most 3 beside timestamps, and the data arrives intact', () => {
    const { p, ca, sb } = established({ latencyUs: 5000 });
    const data = bytes(300_000, 3);
    let n = 0;
    // Drop every 7th data segment from a (among the first 150), so b holds out-of-order data.
    p.dropHook = (w: Wire) => w.from === 'a' && w.seg.payload.length > 0 && ++n % 7 === 0 && n < 150;
    let off = 0;
    const received: Uint8Array[] = [];
    p.runUntil(() => {
      if (off < data.length) off += p.a.write(p.now, ca, data.subarray(off));
      const got = readAll(p.b, p.now, sb);
      if (got.length > 0) received.push(got);
      return received.reduce((s, x) => s + x.length, 0) === data.length;
    });
    expect(sameBytes(Buffer.concat(received), data)).toBe(true);
    let withSack = 0;
    for (const w of p.wire) {
      if (w.from !== 'b') continue;
      const blocks = sackOf(w.seg);
      if (blocks.length === 0) continue;
      withSack++;
      expect(blocks.length).toBeLessThanOrEqual(3);
      blocks.forEach((b, i) => {
        expect(seqLt(b.left, b.right)).toBe(true);
        // A D-SACK block (first, below the ACK or inside the second block) may report old data;
        // every other block reports data held above the cumulative ACK.
        const dsack = i === 0 && (seqLe(b.right, w.seg.ack) || (blocks[1] !== undefined && seqGe(b.left, blocks[1].left) && seqLe(b.right, blocks[1].right)));
        if (!dsack) expect(seqGt(b.left, w.seg.ack)).toBe(true);
      });
      const keys = blocks.map((b) => `${b.left}:${b.right}`);
      expect(new Set(keys).size, keys.join(' ')).toBe(keys.length);
    }
    expect(withSack).toBeGreaterThan(10);
    expect(p.b.stats().outOfOrderSegments).toBeGreaterThan(10);
  });

  it('reports a retransmitted duplicate in a D-SACK block and counts it', () => {
    const { p, ca, sb } = established();
    p.a.write(p.now, ca, bytes(1000));
    // Capture a's data segment and deliver it twice.
    const seg = drainSegments(p.a).find((s) => s.payload.length > 0)!;
    expect(seg).toBeDefined();
    const s = p.b;
    s.handlePacket(p.now, rebuild(seg));
    drainSegments(s);
    s.handlePacket(p.now + 1000, rebuild(seg));
    const out = drainSegments(s);
    expect(out).toHaveLength(1);
    expect(sackOf(out[0]!)).toEqual([{ left: seg.seq, right: (seg.seq + 1000) >>> 0 }]);
    expect(s.stats().dsacksSent).toBe(1);
    expect(readAll(s, p.now, sb)).toHaveLength(1000);
  });

  it('pending SACK and D-SACK state survives snapshot()/restore(): both emit the same next ACK', () => {
    const { p, ca } = established();
    p.a.write(p.now, ca, bytes(3 * p.a.info(ca).mss));
    const segs = drainSegments(p.a).filter((s) => s.payload.length > 0);
    expect(segs.length).toBe(3);
    // Deliver the third segment (out of order), then the second twice (D-SACK of held data).
    p.b.handlePacket(p.now, rebuild(segs[2]!));
    p.b.handlePacket(p.now, rebuild(segs[1]!));
    drainSegments(p.b);
    const r = Stack.restore(p.b.snapshot());
    for (const x of [p.b, r]) x.handlePacket(p.now, rebuild(segs[1]!));
    const [o1, o2] = [drainSegments(p.b), drainSegments(r)];
    expect(o1).toEqual(o2);
    const second = segs[1]!;
    expect(sackOf(o1[0]!)).toEqual([
      { left: second.seq, right: (second.seq + second.payload.length) >>> 0 },
      { left: second.seq, right: (segs[2]!.seq + segs[2]!.payload.length) >>> 0 },
    ]);
  });
});

/** A segment a sent, as a packet again (for delivering it more than once). */
function rebuild(seg: TcpSegment): Uint8Array {
  return buildTcpPacket({ src: A_ADDR, dst: B_ADDR, id: 0, ttl: 64 }, { ...seg });
}
