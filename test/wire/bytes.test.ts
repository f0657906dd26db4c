import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from '../../src/wire/index.js';

describe('ByteWriter / ByteReader', () => {
  it('writes big-endian fields, growing past the first allocation, and reads them back', () => {
    const w = new ByteWriter(4);
    w.u8(0xab);
    w.u16(0x1234);
    w.u32(0xdeadbeef);
    w.u64(2 ** 53 - 1);
    w.f64(-1);
    w.bytes(Uint8Array.of(1, 2, 3));
    const b = w.finish();
    expect(Buffer.from(b.subarray(0, 15)).toString('hex')).toBe('ab1234deadbeef001fffffffffffff');
    const r = new ByteReader(b);
    expect([r.u8(), r.u16(), r.u32(), r.u64(), r.int()]).toEqual([0xab, 0x1234, 0xdeadbeef, 2 ** 53 - 1, -1]);
    expect([...r.bytes(3)]).toEqual([1, 2, 3]);
    expect(() => r.end()).not.toThrow();
  });
  it('throws RangeError on short input, values it cannot hold, and leftovers', () => {
    expect(() => new ByteReader(new Uint8Array(3)).u32()).toThrow(RangeError);
    expect(() => new ByteReader(new Uint8Array(8).fill(0xff)).u64()).toThrow(RangeError);
    const w = new ByteWriter();
    w.f64(0.5);
    expect(() => new ByteReader(w.finish()).int()).toThrow(RangeError);
    expect(() => new ByteReader(new Uint8Array(1)).end()).toThrow(RangeError);
    expect(() => new ByteWriter().u64(-1)).toThrow(RangeError);
  });
});
