import { expect, it } from 'vitest';
import { foldChecksum, sum16 } from '../../src/wire/checksum.js';
import { Prng } from '../../src/tcp/prng.js';
function naive(buf: Uint8Array, start: number, end: number, acc: number): number {
  for (let i = start; i < end; i += 2) acc += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
  return acc;
}
it('word-at-a-time sum16 folds to the same checksum as the byte loop, at every alignment and length (seeded)', () => {
  const rng = new Prng(20261130);
  const backing = new Uint8Array(70_000 + 8);
  for (let i = 0; i < backing.length; i++) backing[i] = rng.below(256);
  for (let n = 0; n < 400; n++) {
    const off = rng.below(8);
    const len = n < 200 ? rng.below(200) : rng.below(70_000);
    const view = backing.subarray(off, off + len + 4);
    const start = rng.below(4);
    const end = Math.min(view.length, start + len);
    const acc = rng.below(0x10000);
    expect(foldChecksum(sum16(view, start, end, acc)), `off ${off} start ${start} end ${end}`).toBe(foldChecksum(naive(view, start, end, acc)));
  }
  // All-0xff words: the case where folding order matters most.
  const ones = new Uint8Array(65_536).fill(0xff);
  expect(foldChecksum(sum16(ones, 0, ones.length, 0))).toBe(foldChecksum(naive(ones, 0, ones.length, 0)));
});
