/**
 * A small seeded pseudo-random generator whose whole state is four 32-bit words, so it
 * can live inside a stack's state, be snapshotted, and replicate with it.
 *
 * Algorithm: xoshiro128** (Blackman and Vigna), seeded through splitmix32 so that any
 * 32-bit seed, 0 included, gives a well-mixed non-zero state. Not cryptographic: the
 * ISN secret it produces is as strong as the seed the operator gives (DESIGN.md,
 * determinism contract: randomness comes from a seed).
 */
export interface PrngState {
  s0: number;
  s1: number;
  s2: number;
  s3: number;
}

function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [x, z];
}

export function prngSeed(seed: number): PrngState {
  let x = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [nx, z] = splitmix32(x);
    x = nx;
    out.push(z);
  }
  if ((out[0]! | out[1]! | out[2]! | out[3]!) === 0) out[0] = 1;
  return { s0: out[0]!, s1: out[1]!, s2: out[2]!, s3: out[3]! };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Next 32-bit unsigned value; advances the state in place. */
export function prngNextU32(s: PrngState): number {
  const result = Math.imul(rotl(Math.imul(s.s1, 5) >>> 0, 7), 9) >>> 0;
  const t = (s.s1 << 9) >>> 0;
  s.s2 = (s.s2 ^ s.s0) >>> 0;
  s.s3 = (s.s3 ^ s.s1) >>> 0;
  s.s1 = (s.s1 ^ s.s2) >>> 0;
  s.s0 = (s.s0 ^ s.s3) >>> 0;
  s.s2 = (s.s2 ^ t) >>> 0;
  s.s3 = rotl(s.s3, 11);
  return result;
}

/** Uniform integer in [0, n) for 0 < n <= 2^32, without modulo bias. */
export function prngBelow(s: PrngState, n: number): number {
  if (!(n > 0 && n <= 0x1_0000_0000)) throw new RangeError(`prngBelow: bad bound ${n}`);
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
  for (;;) {
    const v = prngNextU32(s);
    if (v < limit) return v % n;
  }
}

/** Uniform float in [0, 1) with 32 bits of randomness. */
export function prngFloat(s: PrngState): number {
  return prngNextU32(s) / 0x1_0000_0000;
}

/** Convenience wrapper for code (the simulator) that wants an object. */
export class Prng {
  readonly state: PrngState;
  constructor(seed: number | PrngState) {
    this.state = typeof seed === 'number' ? prngSeed(seed) : { ...seed };
  }
  nextU32(): number {
    return prngNextU32(this.state);
  }
  below(n: number): number {
    return prngBelow(this.state, n);
  }
  float(): number {
    return prngFloat(this.state);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && prngFloat(this.state) < p;
  }
  /** A new independent generator derived from this one (for per-link streams). */
  fork(): Prng {
    return new Prng(prngNextU32(this.state) ^ prngNextU32(this.state));
  }
}
