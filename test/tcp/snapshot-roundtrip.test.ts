// The stack snapshot over varied stacks (src/tcp/snapshot.ts): the decoder was rewritten for
// speed (one walk after JSON.parse instead of a reviver), so every field of every kind of
// state must still come back as it went in, and damaged bytes must be refused with
// StackError EINVAL, whatever the damage. Stacks come from seeded random runs: both
// profiles, both congestion controls, SACK, timestamps, window scaling, RACK and PRR on and
// off, lossy links, several connections per pair with socket options (TOS, DF, Nagle, cork,
// user timeout, buffers), MSG_EOR writes, half-closes, closes and aborts, mid-transfer.
import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../src/tcp/bytering.js';
import { prngBelow, prngSeed, type PrngState } from '../../src/tcp/prng.js';
import { decodeSnapshot, SNAPSHOT_VERSION } from '../../src/tcp/snapshot.js';
import { frameSnapshot } from '../../src/tcp/snapshot-frame.js';
import { Stack } from '../../src/tcp/stack.js';
import type { SocketId, SocketOptions, StackConfig } from '../../src/tcp/types.js';
import { StackError } from '../../src/tcp/types.js';
import { B_ADDR, bytes, MS, Pair } from './harness.js';

const pick = <T>(rng: PrngState, xs: readonly T[]): T => xs[prngBelow(rng, xs.length)]!;
const coin = (rng: PrngState): boolean => prngBelow(rng, 2) === 0;

function randomConfig(rng: PrngState): Partial<StackConfig> {
  const profile = pick(rng, ['rfc', 'linux'] as const);
  return {
    profile,
    congestionControl: pick(rng, ['newreno', 'cubic'] as const),
    sack: coin(rng),
    timestamps: coin(rng),
    windowScaling: coin(rng),
    rack: coin(rng),
    prr: coin(rng),
    hystart: coin(rng),
    slowStartAfterIdle: coin(rng),
    mslMs: 20,
    ...(profile === 'linux' ? { minTsoSegs: 1 + prngBelow(rng, 4) } : {}),
  };
}

function randomOptions(rng: PrngState): SocketOptions {
  const o: SocketOptions = {};
  if (coin(rng)) o.tos = prngBelow(rng, 256);
  if (coin(rng)) o.dontFragment = coin(rng);
  if (coin(rng)) o.noDelay = coin(rng);
  if (prngBelow(rng, 4) === 0) o.cork = true;
  if (coin(rng)) o.userTimeoutMs = 1 + prngBelow(rng, 5000);
  if (coin(rng)) o.sendBufferBytes = 4096 + prngBelow(rng, 200_000);
  if (coin(rng)) o.recvBufferBytes = 4096 + prngBelow(rng, 200_000);
  return o;
}

/** A pair part-way through a seeded random workload; each side's stack holds whatever the run left in it. */
function randomPair(seed: number): Pair {
  const rng = prngSeed(seed);
  const p = new Pair({ a: { ...randomConfig(rng), seed }, b: { ...randomConfig(rng), seed: seed + 1 }, latencyUs: MS + prngBelow(rng, 20 * MS) });
  const loss = pick(rng, [0, 0, 20, 100]); // per 1000 packets
  p.dropHook = () => prngBelow(rng, 1000) < loss;
  const listener = p.b.listen(p.now, { port: 80, ...(coin(rng) ? { options: randomOptions(rng) } : {}) });
  const clients: SocketId[] = [];
  const servers: SocketId[] = [];
  const count = 1 + prngBelow(rng, 4);
  for (let i = 0; i < count; i++) clients.push(p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80, options: randomOptions(rng) }));
  p.runFor(100 * MS);
  for (let s = p.b.accept(listener); s !== undefined; s = p.b.accept(listener)) servers.push(s);
  const rounds = prngBelow(rng, 12);
  for (let round = 0; round < rounds; round++) {
    const [stack, socket] = coin(rng) ? [p.a, pick(rng, clients)] : [p.b, servers.length > 0 ? pick(rng, servers) : undefined];
    if (socket !== undefined) {
      try {
        const what = prngBelow(rng, 20);
        if (what === 0) stack.shutdown(p.now, socket);
        else if (what === 1) stack.close(p.now, socket);
        else if (what === 2) stack.abort(p.now, socket);
        else if (what < 5) stack.read(p.now, socket);
        else stack.write(p.now, socket, bytes(1 + prngBelow(rng, 30_000), round), coin(rng), prngBelow(rng, 3) === 0);
      } catch (e) {
        if (!(e instanceof StackError)) throw e; // a call on a socket this run already closed: refused, as it should be
      }
    }
    p.runFor(prngBelow(rng, 40 * MS));
  }
  return p;
}

/**
 * A state as plain comparable data. A value JSON cannot hold as it is (a class instance
 * other than the three the snapshot tags, -0, undefined in an array) is named, so that a
 * field the snapshot would silently change shows up as a difference.
 */
function canon(v: unknown, path: string): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : v;
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return { u8: Buffer.from(v).toString('hex') };
  if (v instanceof ByteRing) return { ring: Buffer.from(v.toBytes()).toString('hex'), limit: v.limit };
  if (v instanceof Map) return { map: [...v].map(([k, x], i) => [canon(k, `${path}.key${i}`), canon(x, `${path}.${String(k)}`)]) };
  if (Array.isArray(v)) return v.map((x, i) => (x === undefined ? '<undefined in an array>' : canon(x, `${path}[${i}]`)));
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype) return `<${(proto as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'null-prototype'} at ${path}>`;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = canon(x, `${path}.${k}`);
  return out;
}

/** A stack's live state as snapshot() saves it: the queues from their heads (their tails, here). */
function liveState(s: Stack, saved: { events: unknown[]; transmitQueue: unknown[] }): unknown {
  const st = s.state();
  return canon({ ...st, events: st.events.slice(st.events.length - saved.events.length), transmitQueue: st.transmitQueue.slice(st.transmitQueue.length - saved.transmitQueue.length) }, 'state');
}

const SEEDS = 60;

describe('stack snapshot round trip over varied stacks', () => {
  it(`${SEEDS} random pairs, both sides: decode gives back every field, and encode -> decode -> encode the same bytes`, () => {
    let conns = 0;
    let withEor = 0;
    let withTos = 0;
    let inFlight = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const p = randomPair(seed);
      for (const s of [p.a, p.b]) {
        const snap = s.snapshot();
        const decoded = decodeSnapshot(snap);
        expect(canon(decoded, 'state'), `seed ${seed}: decoded state`).toEqual(liveState(s, decoded));
        const restored = Stack.restore(snap);
        expect(Buffer.from(restored.snapshot()).equals(Buffer.from(snap)), `seed ${seed}: encode(decode(x)) is x`).toBe(true);
        for (const tcb of decoded.conns.values()) {
          conns++;
          if (tcb.recordEnds !== undefined) withEor++;
          if (tcb.tos !== undefined) withTos++;
          if (tcb.sndBuf.length > 0) inFlight++;
        }
      }
    }
    // The runs reach the kinds of state the round trip must carry.
    expect(conns).toBeGreaterThan(SEEDS);
    expect(withEor).toBeGreaterThan(0);
    expect(withTos).toBeGreaterThan(0);
    expect(inFlight).toBeGreaterThan(0);
  }, 120_000);
});

/** Restore `bytes`: undefined when it succeeds, the error otherwise. */
function restoreError(bytes: Uint8Array): unknown {
  try {
    Stack.restore(bytes);
    return undefined;
  } catch (e) {
    return e;
  }
}

/** A frame with a good header and CRC around `json`, as a writer with a bug would make it. */
function framed(json: string): Uint8Array {
  return frameSnapshot({ magic: 'FTCPSNAP', version: SNAPSHOT_VERSION, what: 'snapshot' }, new TextEncoder().encode(json));
}

describe('a damaged stack snapshot is StackError EINVAL, never another error', () => {
  it('random flips, cuts and additions, 400 of them', () => {
    const rng = prngSeed(7);
    const snaps = [1, 2, 3, 4].map((seed) => randomPair(seed).b.snapshot());
    const others: string[] = [];
    for (let i = 0; i < 400; i++) {
      const snap = pick(rng, snaps);
      let bad: Uint8Array;
      const how = prngBelow(rng, 3);
      if (how === 0) {
        bad = snap.slice();
        for (let n = 1 + prngBelow(rng, 4); n > 0; n--) bad[prngBelow(rng, bad.length)]! ^= 1 + prngBelow(rng, 255);
      } else if (how === 1) {
        bad = snap.slice(0, prngBelow(rng, snap.length));
      } else {
        bad = new Uint8Array([...snap, ...Array.from({ length: 1 + prngBelow(rng, 8) }, () => prngBelow(rng, 256))]);
      }
      const e = restoreError(bad);
      if (!(e instanceof StackError && e.code === 'EINVAL' && /restore: corrupt snapshot: /.test(e.message))) others.push(`case ${i}: ${String(e)}`);
    }
    expect(others).toEqual([]);
  });

  it('a well-framed payload with a tagged value that cannot be one says which, as EINVAL', () => {
    const snap = randomPair(3).b.snapshot();
    const json = new TextDecoder().decode(snap.subarray(20));
    const cases: Array<[string, string, RegExp]> = [
      ['a map that is not a list of pairs', json.replace('"listeners":{"$map":[', '"listeners":{"$map":[7,'), /tagged value/],
      ['a ring with a negative limit', json.replace(/"limit":\d+/, '"limit":-5'), /tagged value/],
      ['text that is not JSON', json.slice(0, json.length - 3), /not valid JSON/],
      ['a connection without its send buffer', json.replace('"sndBuf":', '"sndBufGone":'), /connection record is malformed/],
    ];
    for (const [why, text, message] of cases) {
      expect(text, `${why}: the test changed the payload`).not.toBe(json);
      const e = restoreError(framed(text));
      expect(e, why).toBeInstanceOf(StackError);
      expect((e as StackError).code, why).toBe('EINVAL');
      expect((e as StackError).message, why).toMatch(message);
    }
  });

  it('a "__proto__" key in the payload is data, as JSON.parse made it, and changes no object\'s prototype', () => {
    const snap = randomPair(3).b.snapshot();
    const json = new TextDecoder().decode(snap.subarray(20));
    const text = json.replace('"stats":{', '"stats":{"__proto__":{"$u8":"AAAA","x":1},');
    expect(text).not.toBe(json);
    const state = decodeSnapshot(framed(text));
    expect(Object.getPrototypeOf(state.stats)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(state.stats, '__proto__')).toBe(true);
  });
});
