/**
 * Initial sequence numbers, RFC 6528 §3: ISN = M + F(localip, localport, remoteip,
 * remoteport, secretkey), where M is a timer ticking every 4 µs and F a keyed hash.
 *
 * F is HalfSipHash-2-4 (Aumasson & Bernstein; the 32-bit-word variant of SipHash, 64-bit
 * key, 32-bit output), computed with 32-bit operations only: no crypto module is allowed
 * in this layer. The message is the 12-byte little-endian encoding of the words
 * [localAddr, remoteAddr, localPort << 16 | remotePort]. The 64-bit key is drawn from
 * the stack's PRNG when the stack is made, so it is part of the stack state.
 */
import type { Ipv4Addr } from '../wire/addr.js';

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** HalfSipHash-2-4 over 32-bit words (the message's length in bytes is 4 * words.length). */
export function halfSipHash24(k0: number, k1: number, words: readonly number[]): number {
  let v0 = k0 >>> 0;
  let v1 = k1 >>> 0;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  const round = (): void => {
    v0 = (v0 + v1) >>> 0;
    v1 = rotl(v1, 5);
    v1 = (v1 ^ v0) >>> 0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0;
    v3 = rotl(v3, 8);
    v3 = (v3 ^ v2) >>> 0;
    v0 = (v0 + v3) >>> 0;
    v3 = rotl(v3, 7);
    v3 = (v3 ^ v0) >>> 0;
    v2 = (v2 + v1) >>> 0;
    v1 = rotl(v1, 13);
    v1 = (v1 ^ v2) >>> 0;
    v2 = rotl(v2, 16);
  };
  const compress = (m: number): void => {
    v3 = (v3 ^ m) >>> 0;
    round();
    round();
    v0 = (v0 ^ m) >>> 0;
  };
  for (const w of words) compress(w >>> 0);
  // Final block: message length in bytes in the top byte, no trailing bytes (whole words).
  compress(((words.length * 4) & 0xff) << 24 >>> 0);
  v2 = (v2 ^ 0xff) >>> 0;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

export interface IsnKey {
  k0: number;
  k1: number;
}

/** RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey). */
export function generateIsn(
  nowUs: number,
  key: IsnKey,
  localAddr: Ipv4Addr,
  localPort: number,
  remoteAddr: Ipv4Addr,
  remotePort: number,
): number {
  // M: a 4-µs timer (RFC 6528 §3, RFC 9293 §3.4.1), taken modulo 2^32.
  const m = Math.floor(nowUs / 4) % 0x1_0000_0000;
  const f = halfSipHash24(key.k0, key.k1, [localAddr, remoteAddr, ((localPort & 0xffff) << 16 | (remotePort & 0xffff)) >>> 0]);
  return (m + f) >>> 0;
}

/**
 * The offset of a connection's TS clock (RFC 7323 §5.4 / §7.1: a random offset per
 * connection keeps the clock from leaking the host's uptime). As Linux's secure_tcp_ts_off,
 * it is a keyed hash of the address pair, so successive connections between the same hosts
 * share one monotonic TS clock (which PAWS and TIME-WAIT reuse rely on). The constant
 * separates this use of the key from the ISN's.
 */
export function timestampOffset(key: IsnKey, localAddr: Ipv4Addr, remoteAddr: Ipv4Addr): number {
  return halfSipHash24(key.k0, key.k1, [localAddr, remoteAddr, 0x54_53_4f_46]);
}
