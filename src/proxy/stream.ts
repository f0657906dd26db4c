/**
 * A seeded byte stream with random access: byte i of stream (seed) is a pure function of
 * (seed, i), so a sender can produce any range and a receiver can check any range without
 * either holding the stream in memory.
 */
function mix(seed: number, block: number): number {
  // splitmix32-style finaliser over (seed, block index).
  let z = (Math.imul(block, 0x9e3779b9) + seed + 0x7f4a7c15) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The platform stores the low byte of a word first (every platform Node supports today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Bytes [offset, offset+length) of the stream with this seed. */
export function streamBytes(seed: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const s = seed >>> 0;
  // One mix per 4-byte word (byte pos is byte pos % 4 of word floor(pos / 4), little-endian).
  let i = 0;
  // Bytes up to the first word boundary of the stream.
  for (; i < length && ((offset + i) & 3) !== 0; i++) out[i] = (mix(s, Math.floor((offset + i) / 4)) >>> (((offset + i) & 3) * 8)) & 0xff;
  if (LITTLE_ENDIAN && ((out.byteOffset + i) & 3) === 0) {
    // Whole words: a little-endian store writes the word's bytes in stream order: a
    // quarter of the stores of the byte loop (the bulk app makes 10 MB a run).
    const words = (length - i) >>> 2;
    const u32 = new Uint32Array(out.buffer, out.byteOffset + i, words);
    const first = Math.floor((offset + i) / 4);
    for (let k = 0; k < words; k++) u32[k] = mix(s, first + k);
    i += words << 2;
  }
  for (; i < length; ) {
    const pos = offset + i;
    const word = mix(s, Math.floor(pos / 4));
    for (let b = pos & 3; b < 4 && i < length; b++, i++) out[i] = (word >>> (b * 8)) & 0xff;
  }
  return out;
}

/** Index of the first byte of `data` that differs from the stream at `offset`, or -1. */
export function streamMismatch(seed: number, offset: number, data: Uint8Array): number {
  const expected = streamBytes(seed, offset, data.length);
  for (let i = 0; i < data.length; i++) if (data[i] !== expected[i]) return i;
  return -1;
}
