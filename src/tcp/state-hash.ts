/**
 * A 32-bit structural hash of plain state data, for the replicas' divergence digest
 * (src/replica/rsm.ts). It walks the value as snapshot.ts serialises it (numbers, strings,
 * booleans, null, arrays, plain objects in key order, Maps in iteration order, Uint8Array,
 * ByteRing), without building the JSON: two values that snapshot to the same bytes hash
 * the same, so a live state and the one restored from its snapshot agree. As JSON does, an
 * object property holding `undefined` is left out and an `undefined` array element counts
 * as null.
 *
 * The mixing is MurmurHash3's (x86, 32-bit) block step and finaliser; byte arrays go in
 * through their CRC-32. It is a check against determinism bugs, not a cryptographic hash.
 */
import { ByteRing } from './bytering.js';
import { crc32 } from '../wire/crc32.js';

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** Type tags, so that values of different kinds never hash alike. */
const Tag = { Null: 1, True: 2, False: 3, Int: 4, Float: 5, String: 6, Bytes: 7, Ring: 8, Array: 9, Map: 10, Object: 11 } as const;

/** One MurmurHash3 block step: fold the 32-bit word k into h. */
export function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser: every input bit affects every output bit. Returns an unsigned value. */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixString(h: number, s: string): number {
  h = mix(mix(h, Tag.String), s.length);
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return h;
}

function mixNumber(h: number, n: number): number {
  if ((n | 0) === n) return mix(mix(h, Tag.Int), n); // also -0, as JSON writes it "0"
  F64[0] = n;
  return mix(mix(mix(h, Tag.Float), U32[0]!), U32[1]!);
}

/** Fold `v` into the running hash `h` (not finalised: pass the result to finish()). */
export function mixValue(h: number, v: unknown): number {
  switch (typeof v) {
    case 'number':
      return mixNumber(h, v);
    case 'string':
      return mixString(h, v);
    case 'boolean':
      return mix(h, v ? Tag.True : Tag.False);
    case 'undefined':
      return mix(h, Tag.Null);
    case 'object':
      break;
    default:
      throw new Error(`state hash: a ${typeof v} is not plain state data`);
  }
  if (v === null) return mix(h, Tag.Null);
  if (v instanceof Uint8Array) return mix(mix(mix(h, Tag.Bytes), v.length), crc32(v));
  if (v instanceof ByteRing) return mix(mix(mix(mix(h, Tag.Ring), v.limit), v.length), v.crc32());
  if (Array.isArray(v)) {
    h = mix(mix(h, Tag.Array), v.length);
    for (let i = 0; i < v.length; i++) h = mixValue(h, v[i]);
    return h;
  }
  if (v instanceof Map) {
    h = mix(mix(h, Tag.Map), v.size);
    for (const [k, x] of v) h = mixValue(mixValue(h, k), x);
    return h;
  }
  h = mix(h, Tag.Object);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x === undefined) continue;
    h = mixValue(mix(h, keyHash(k)), x);
  }
  return h;
}

/** Property names are few (the fields of a TCB, an app's connection): their hashes are kept. */
const KEY_HASHES = new Map<string, number>();

function keyHash(k: string): number {
  let kh = KEY_HASHES.get(k);
  if (kh === undefined) {
    if (KEY_HASHES.size >= 4096) KEY_HASHES.clear(); // bounded, whatever objects come by
    kh = finish(mixString(0, k));
    KEY_HASHES.set(k, kh);
  }
  return kh;
}

/** The finalised hash of one value, seeded (a socket id, say). */
export function hashValue(v: unknown, seed = 0): number {
  return finish(mixValue(seed | 0, v));
}

/**
 * An order-independent digest of a keyed collection (connections by socket id), kept up
 * to date incrementally: the sum (mod 2^32) of each entry's hash, seeded with its key.
 * mark(key) says an entry changed or went away; value() rehashes only the marked ones,
 * so it costs O(entries changed), and it needs no sorting. A missed mark() would leave a
 * stale hash behind: callers mark wherever they change an entry, and a test compares the
 * value with a fresh one (every key marked) along whole runs.
 */
export class KeyedHashes {
  private readonly byKey = new Map<number, number>();
  private readonly dirty = new Set<number>();
  private total = 0;

  mark(key: number): void {
    this.dirty.add(key);
  }

  /** The digest, after rehashing the marked keys: `get(key)` is the entry's state, or undefined once it is gone. */
  value(get: (key: number) => unknown): number {
    for (const key of this.dirty) {
      const old = this.byKey.get(key) ?? 0;
      const state = get(key);
      if (state === undefined) {
        this.byKey.delete(key);
        this.total = (this.total - old) | 0;
      } else {
        const h = hashValue(state, key) | 0; // a small integer: no heap number per entry
        this.byKey.set(key, h);
        this.total = (this.total - old + h) | 0;
      }
    }
    this.dirty.clear();
    return mix(this.byKey.size, this.total) >>> 0;
  }
}
