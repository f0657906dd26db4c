/**
 * The internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
 * 16-bit words. `sum16` accumulates without folding (a JS number holds far more than
 * any packet's worth of 16-bit words), `foldChecksum` folds and complements.
 */

/** The platform stores the low byte of a 16-bit word first (every platform Node supports today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Below this many bytes the byte loop is as fast as setting up a word view. */
const WORDS_MIN_BYTES = 64;

/** Add the 16-bit big-endian words of buf[start, end) to acc. An odd trailing byte is padded with zero. */
export function sum16(buf: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  if (LITTLE_ENDIAN && end - start >= WORDS_MIN_BYTES && ((buf.byteOffset + start) & 1) === 0) {
    // One 16-bit word first when the start is 2 mod 4, so the rest is 32-bit aligned.
    if (((buf.byteOffset + i) & 3) === 2) {
      acc += (buf[i]! << 8) | buf[i + 1]!;
      i += 2;
    }
    const words = (end - i) >>> 2;
    const u32 = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    // RFC 1071 §2(B): the ones' complement sum is byte-order independent. Sum the words as
    // the machine reads them (little-endian halves), fold to 16 bits, then swap the two
    // bytes to get the big-endian sum. Folding every 2^14 words keeps the sum a small integer.
    let le = 0;
    for (let k = 0; k < words; k++) {
      const w = u32[k]!;
      le += (w & 0xffff) + (w >>> 16);
      if ((k & 0x3fff) === 0x3fff) le = (le & 0xffff) + (le >>> 16);
    }
    while (le > 0xffff) le = (le & 0xffff) + (le >>> 16);
    acc += ((le & 0xff) << 8) | (le >>> 8);
    i += words << 2;
  }
  const even = end - ((end - i) & 1);
  for (; i < even; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) acc += buf[i]! << 8;
  return acc;
}

/** Fold a sum to 16 bits and complement it: the value to put in a checksum field. */
export function foldChecksum(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

/** Checksum of buf[start, end). Over data that includes a correct checksum field, the result is 0. */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return foldChecksum(sum16(buf, start, end, 0));
}

/** The sum of the TCP/UDP pseudo-header (RFC 9293 §3.1: source, destination, zero, PTCL, TCP length). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
