/**
 * The internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
 * 16-bit words. `sum16` accumulates without folding (a JS number holds far more than
 * any packet's worth of 16-bit words), `foldChecksum` folds and complements.
 */

/** Add the 16-bit big-endian words of buf[start, end) to acc. An odd trailing byte is padded with zero. */
export function sum16(buf: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  const even = end - ((end - start) & 1);
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
