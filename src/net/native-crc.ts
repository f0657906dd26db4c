/**
 * Hands Node's zlib.crc32 (Node >= 20.15) to src/wire/crc32.ts, which cannot import it:
 * the log channel's CRCs over 64 KB entries then run natively. Same values as the
 * JS loop, which stays the fallback and is what the simulator's tests also exercise.
 */
import zlib from 'node:zlib';
import { useNativeCrc32, type Crc32Native } from '../wire/crc32.js';

/** False when this Node has no zlib.crc32 or it disagrees with the JS loop (the JS loop stays). */
export function installNativeCrc32(): boolean {
  const fn = (zlib as unknown as { crc32?: Crc32Native }).crc32;
  return typeof fn === 'function' && useNativeCrc32((data, previous) => fn(data, previous));
}
