/**
 * The incremental state digest (state-hash.ts, Stack.stateDigest): a pure function of the
 * state (a stack restored from a snapshot gives the live stack's digest, at every point of
 * a lossy many-connection run, so no change to a connection escapes the dirty marks), it
 * differs when the state does, and it rehashes only the connections marked.
 */
import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../src/tcp/bytering.js';
import { Stack } from '../../src/tcp/stack.js';
import { hashValue, KeyedHashes } from '../../src/tcp/state-hash.js';
import type { SocketId } from '../../src/tcp/types.js';
import { crc32 } from '../../src/wire/crc32.js';
import { B_ADDR, bytes, Pair, type Side } from './harness.js';

describe('hashValue', () => {
  it('hashes what JSON would write: key order, no undefined properties, -0 as 0', () => {
    expect(hashValue({ a: 1, b: 'x' })).toBe(hashValue(JSON.parse('{"a":1,"b":"x"}')));
    expect(hashValue({ a: 1, b: undefined })).toBe(hashValue({ a: 1 }));
    expect(hashValue([undefined])).toBe(hashValue([null]));
    expect(hashValue(-0)).toBe(hashValue(0));
    expect(hashValue({ a: 1, b: 2 })).not.toBe(hashValue({ b: 2, a: 1 }));
  });

  it('tells apart values that differ in one place, and kinds that look alike', () => {
    const base = { n: 3_000_000_000, f: 0.5, s: 'ESTABLISHED', l: [1, 2, 3], m: new Map([[1, 'a']]), u: Uint8Array.of(1, 2) };
    const variants: unknown[] = [
      { ...base, n: 3_000_000_001 },
      { ...base, f: 0.25 },
      { ...base, s: 'ESTABLISHEd' },
      { ...base, l: [1, 3, 2] },
      { ...base, m: new Map([[1, 'b']]) },
      { ...base, u: Uint8Array.of(1, 3) },
    ];
    const h = hashValue(base);
    for (const v of variants) expect(hashValue(v)).not.toBe(h);
    expect(new Set([hashValue('1'), hashValue(1), hashValue(true), hashValue(null), hashValue([]), hashValue({})]).size).toBe(6);
  });

  it('a ByteRing hashes by content and limit, also when its content wraps around', () => {
    const a = new ByteRing(4096);
    a.write(bytes(1000, 1));
    a.drop(900);
    a.write(bytes(1000, 2)); // wraps in the 1024-byte backing array
    const content = a.toBytes();
    expect(a.crc32()).toBe(crc32(content));
    expect(hashValue(a)).toBe(hashValue(ByteRing.from(4096, content)));
    expect(hashValue(a)).not.toBe(hashValue(ByteRing.from(4097, content)));
  });
});

describe('KeyedHashes', () => {
  it('rehashes only the marked keys, and the sum does not depend on the order they came in', () => {
    const state = new Map<number, number[]>([[1, [1]], [2, [2]], [3, [3]]]);
    const asked: number[] = [];
    const get = (k: number) => (asked.push(k), state.get(k));
    const a = new KeyedHashes();
    for (const k of [1, 2, 3]) a.mark(k);
    const first = a.value(get);
    asked.length = 0;
    state.get(2)!.push(9);
    a.mark(2);
    const second = a.value(get);
    expect(asked).toEqual([2]);
    expect(second).not.toBe(first);
    const b = new KeyedHashes();
    for (const k of [3, 1, 2]) b.mark(k);
    expect(b.value((k) => state.get(k))).toBe(second);
    state.delete(3);
    a.mark(3);
    const c = new KeyedHashes();
    for (const k of [1, 2]) c.mark(k);
    expect(a.value(get)).toBe(c.value((k) => state.get(k)));
  });
});

describe('Stack.stateDigest', () => {
  it('equals the digest of a stack restored from a snapshot at every step of a lossy run with many connections', () => {
    const p = new Pair({ a: { mslMs: 50 }, b: { mslMs: 50 } });
    let r = 7;
    const rnd = (): number => (r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32;
    p.dropHook = () => rnd() < 0.05;
    const lb = p.b.listen(p.now, { port: 80 });
    const conns: Array<{ side: Side; id: SocketId; sent: number; done: boolean }> = [];
    for (let i = 0; i < 12; i++) conns.push({ side: 'a', id: p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 }), sent: 0, done: false });
    let checks = 0;
    const digests = new Set<number>();
    const check = (side: Side): void => {
      const s = p.stack(side);
      const live = s.stateDigest();
      expect(Stack.restore(s.snapshot()).stateDigest(), `stack ${side} at ${p.now} µs`).toBe(live);
      digests.add(live);
      checks++;
    };
    p.onEvent = (side, ev) => {
      const s = p.stack(side);
      if (ev.type === 'incoming') for (let id = s.accept(lb); id !== undefined; id = s.accept(lb)) conns.push({ side: 'b', id, sent: 0, done: false });
      if (ev.type === 'readable' || ev.type === 'eof') {
        try {
          while (s.read(p.now, ev.socket).length > 0);
        } catch {
          /* closed meanwhile */
        }
      }
      if (rnd() < 0.3) check(side); // half-drained queues and pending-event flags too
    };
    for (let step = 0; step < 3000; step++) {
      for (const c of conns) {
        if (c.done || rnd() > 0.2) continue;
        const s = p.stack(c.side);
        try {
          const roll = rnd();
          if (roll < 0.002) {
            s.abort(p.now, c.id);
            c.done = true;
          } else if (roll < 0.7) {
            if (c.sent < 150_000) c.sent += s.write(p.now, c.id, bytes(1 + Math.floor(rnd() * 5000), c.id));
          } else if (roll < 0.75) s.setNoDelay(c.id, rnd() < 0.5);
          else if (roll < 0.8 && c.sent >= 150_000) {
            s.close(p.now, c.id);
            c.done = true;
          }
        } catch {
          c.done = true; // not yet connected, or gone
        }
      }
      if (!p.step()) break;
      check('a');
      check('b');
    }
    expect(conns.filter((c) => c.side === 'b').length).toBe(12);
    expect(checks).toBeGreaterThan(1000);
    expect(digests.size).toBeGreaterThan(checks / 4);
  });

  it('differs between two stacks whose connection state differs, and is the same for the same history', () => {
    const make = () => {
      const p = new Pair();
      const lb = p.b.listen(p.now, { port: 80 });
      const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 });
      p.settle();
      return { p, lb, ca };
    };
    const x = make();
    const y = make();
    expect(x.p.b.stateDigest()).toBe(y.p.b.stateDigest());
    y.p.a.write(y.p.now, y.ca, bytes(10, 1));
    y.p.settle();
    expect(x.p.b.stateDigest()).not.toBe(y.p.b.stateDigest());
  });
});
