// The byte ring under many rings that empty and refill in turn (emptied rings
// give their arrays to a shared pool, and a ring must never see another's bytes).
import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../src/tcp/bytering.js';
import { Prng } from '../../src/tcp/prng.js';

describe('ByteRing with arrays passed between rings', () => {
  it('keeps each ring\'s content exact while rings empty, grow and wrap in random turns', () => {
    const prng = new Prng(3);
    const rings = Array.from({ length: 6 }, () => ({ ring: new ByteRing(200_000), model: [] as number[], next: 0 }));
    for (let step = 0; step < 4000; step++) {
      const r = rings[prng.below(rings.length)]!;
      const op = prng.below(4);
      if (op < 2) {
        const n = prng.below(70_000);
        const data = new Uint8Array(n);
        for (let i = 0; i < n; i++) data[i] = (r.next + i) & 0xff;
        const took = r.ring.write(data);
        for (let i = 0; i < took; i++) r.model.push((r.next + i) & 0xff);
        r.next += took;
      } else if (op === 2) {
        const n = prng.below(r.model.length + 1);
        expect(Array.from(r.ring.read(n))).toEqual(r.model.splice(0, n));
      } else {
        r.ring.drop(r.model.length); // empty it: its array goes to the pool
        r.model = [];
      }
      if (r.model.length > 0) {
        const at = prng.below(r.model.length);
        const n = Math.min(100, r.model.length - at);
        expect(Array.from(r.ring.peek(at, n))).toEqual(r.model.slice(at, at + n));
        expect(Array.from(r.ring.view(at, n))).toEqual(r.model.slice(at, at + n));
      }
      expect(r.ring.length).toBe(r.model.length);
    }
  });

  it('an emptied ring that writes again reads back only what it wrote', () => {
    const a = new ByteRing(1 << 20);
    const b = new ByteRing(1 << 20);
    a.write(new Uint8Array(65_000).fill(0xaa));
    a.drop(65_000); // a's 64 KiB array is pooled
    b.write(new Uint8Array(40_000).fill(1)); // b grows to 64 KiB and takes it: stale 0xaa bytes lie past its content
    expect(Array.from(b.peek(39_990, 100))).toEqual(new Array(10).fill(1));
    expect(b.toBytes().every((x) => x === 1)).toBe(true);
    expect(b.crc32()).toBe(ByteRing.from(1 << 20, new Uint8Array(40_000).fill(1)).crc32());
    a.write(Uint8Array.from([9]));
    expect(Array.from(a.read(5))).toEqual([9]);
  });
});
