/**
 * Incremental SHA-256 (FIPS 180-4) in plain TypeScript, with its whole state as plain data
 * so it snapshots and replicates with the app that owns it. src/proxy may not use
 * node:crypto (determinism lint rule), and a hash object from there could not be snapshotted.
 */
const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export interface Sha256State {
  h: number[];
  /** Bytes not yet forming a whole 64-byte block. */
  pending: number[];
  length: number;
}

export function sha256Init(): Sha256State {
  return { h: [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19], pending: [], length: 0 };
}

const W = new Int32Array(64);
/** K as signed 32-bit words: the rounds below stay in int32 arithmetic (`| 0`), which V8 keeps unboxed. */
const K32 = Int32Array.from(K);

function compress(h: number[], block: Uint8Array | number[], off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!;
    const b = W[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = h[0]! | 0, b = h[1]! | 0, c = h[2]! | 0, d = h[3]! | 0, e = h[4]! | 0, f = h[5]! | 0, g = h[6]! | 0, hh = h[7]! | 0;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K32[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  // The state stays unsigned, as it is in snapshots.
  h[0] = (h[0]! + a) >>> 0;
  h[1] = (h[1]! + b) >>> 0;
  h[2] = (h[2]! + c) >>> 0;
  h[3] = (h[3]! + d) >>> 0;
  h[4] = (h[4]! + e) >>> 0;
  h[5] = (h[5]! + f) >>> 0;
  h[6] = (h[6]! + g) >>> 0;
  h[7] = (h[7]! + hh) >>> 0;
}

export function sha256Update(s: Sha256State, data: Uint8Array): void {
  s.length += data.length;
  let i = 0;
  if (s.pending.length > 0) {
    while (s.pending.length < 64 && i < data.length) s.pending.push(data[i++]!);
    if (s.pending.length < 64) return;
    compress(s.h, s.pending, 0);
    s.pending = [];
  }
  for (; i + 64 <= data.length; i += 64) compress(s.h, data, i);
  for (; i < data.length; i++) s.pending.push(data[i]!);
}

/** The digest as lowercase hex. Does not disturb s. */
export function sha256Hex(s: Sha256State): string {
  const h = [...s.h];
  const tail = [...s.pending, 0x80];
  while (tail.length % 64 !== 56) tail.push(0);
  const bits = s.length * 8;
  const hi = Math.floor(bits / 0x1_0000_0000);
  tail.push((hi >>> 24) & 255, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255);
  tail.push((bits >>> 24) & 255, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255);
  for (let off = 0; off < tail.length; off += 64) compress(h, tail, off);
  return h.map((x) => x.toString(16).padStart(8, '0')).join('');
}

export function sha256(data: Uint8Array): string {
  const s = sha256Init();
  sha256Update(s, data);
  return sha256Hex(s);
}
