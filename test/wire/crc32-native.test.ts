// the log channel's CRCs may run in Node's zlib.crc32, which must give the very same values.
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { installNativeCrc32 } from '../../src/net/native-crc.js';
import { Prng } from '../../src/tcp/prng.js';
import { crc32, useNativeCrc32 } from '../../src/wire/crc32.js';

afterEach(() => {
  useNativeCrc32(undefined);
});

describe('CRC-32: a native implementation handed in', () => {
  it('is refused when it computes another function', () => {
    expect(useNativeCrc32((data) => zlib.crc32(data) ^ 1)).toBe(false);
    expect(useNativeCrc32((data) => zlib.crc32(data))).toBe(false); // ignores the running value
  });

  it('gives the JS loop\'s value on random buffers, offsets and running values', () => {
    const prng = new Prng(8);
    const cases = Array.from({ length: 200 }, () => {
      const buf = new Uint8Array(prng.below(70_000) + 1);
      for (let i = 0; i < buf.length; i++) buf[i] = prng.below(256);
      const start = prng.below(buf.length);
      const end = start + prng.below(buf.length - start + 1);
      return { buf, start, end, previous: prng.below(2) === 0 ? 0 : prng.nextU32() };
    });
    const js = cases.map((c) => crc32(c.buf, c.start, c.end, c.previous));
    expect(installNativeCrc32()).toBe(typeof (zlib as { crc32?: unknown }).crc32 === 'function');
    expect(cases.map((c) => crc32(c.buf, c.start, c.end, c.previous))).toEqual(js);
  });
});
