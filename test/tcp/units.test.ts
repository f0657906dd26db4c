/** Unit tests of the stack's building blocks. */
import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../src/tcp/bytering.js';
import { newRenoController } from '../../src/tcp/cc/newreno.js';
import { initialWindow } from '../../src/tcp/congestion.js';
import { resolveConfig } from '../../src/tcp/config.js';
import { halfSipHash24 } from '../../src/tcp/isn.js';
import { MAX_SEGMENTS, newReassembly, reassemblyInsert, reassemblyTake } from '../../src/tcp/reassembly.js';
import { rtoAfterSynTimeout, rtoBackoff, rtoInit, rtoSample } from '../../src/tcp/rto.js';
import { DeadlineHeap, earliest, newTimers, Timer } from '../../src/tcp/timers.js';
import { TupleTable } from '../../src/tcp/tuples.js';
import { bytes, concat } from './harness.js';

describe('ByteRing', () => {
  it('appends up to its limit, peeks at any offset, drops a prefix, wraps around', () => {
    const r = new ByteRing(3000);
    const data = bytes(6000, 1);
    expect(r.write(data.subarray(0, 1000))).toBe(1000);
    expect(r.write(data.subarray(1000, 5000))).toBe(2000);
    expect(r.length).toBe(3000);
    expect(r.free).toBe(0);
    expect(r.peek(500, 100)).toEqual(data.subarray(500, 600));
    r.drop(2500);
    expect(r.write(data.subarray(3000, 6000))).toBe(2500); // wraps around the end of the array
    expect(r.peek(0, 1000)).toEqual(concat([data.subarray(2500, 3000), data.subarray(3000, 3500)]));
    expect(r.read(10_000)).toEqual(data.subarray(2500, 5500));
    expect(r.length).toBe(0);
    expect(r.peek(0, 10)).toHaveLength(0);
  });

  it('survives many small wrapping writes and reads', () => {
    const r = new ByteRing(1500);
    const data = bytes(100_000, 2);
    const out: Uint8Array[] = [];
    let w = 0;
    for (let i = 0; w < data.length; i++) {
      w += r.write(data.subarray(w, w + 1 + (i % 700)));
      out.push(r.read(1 + ((i * 7) % 900)));
    }
    out.push(r.read(r.length));
    expect(concat(out)).toEqual(data);
  });

  it('view() returns the same bytes as peek(), wrapped or not', () => {
    const r = new ByteRing(1024);
    r.write(bytes(1000, 1));
    r.drop(900);
    r.write(bytes(500, 2)); // wraps
    for (const [o, n] of [[0, 50], [0, 600], [50, 100], [120, 400], [599, 5]] as const) {
      expect(r.view(o, n)).toEqual(r.peek(o, n));
    }
  });

  it('round-trips through toBytes/from', () => {
    const r = new ByteRing(100);
    r.write(bytes(80, 3));
    r.drop(30);
    const c = ByteRing.from(r.limit, r.toBytes());
    expect(c.limit).toBe(100);
    expect(c.toBytes()).toEqual(bytes(80, 3).subarray(30));
  });

  it('holds no backing array while empty: none before the first write, and it is given back when the ring empties', () => {
    const capacity = (r: ByteRing) => (r as unknown as { buf: Uint8Array }).buf.length;
    const r = new ByteRing(1 << 20);
    expect(capacity(r)).toBe(0);
    r.write(bytes(5000, 4));
    expect(capacity(r)).toBe(8192);
    r.drop(4999);
    expect(capacity(r)).toBe(8192);
    expect(r.read(10)).toEqual(bytes(5000, 4).subarray(4999));
    expect(capacity(r)).toBe(0);
    r.write(bytes(10, 5));
    expect(r.toBytes()).toEqual(bytes(10, 5));
  });
});

describe('TupleTable', () => {
  it('tells apart connections that share a remote endpoint, and counts them', () => {
    const t = new TupleTable();
    t.set(10, 80, 1, 5000, 1);
    t.set(10, 81, 1, 5000, 2);
    t.set(11, 80, 1, 5000, 3);
    t.set(10, 80, 1, 5001, 4);
    expect(t.size).toBe(4);
    expect([t.get(10, 80, 1, 5000), t.get(10, 81, 1, 5000), t.get(11, 80, 1, 5000), t.get(10, 80, 1, 5001)]).toEqual([1, 2, 3, 4]);
    expect(t.get(11, 81, 1, 5000)).toBeUndefined();
    t.set(10, 81, 1, 5000, 7); // replaces, does not add
    expect(t.size).toBe(4);
    t.delete(10, 80, 1, 5000);
    t.delete(10, 80, 1, 5000); // twice: no change
    expect(t.size).toBe(3);
    expect([t.get(10, 80, 1, 5000), t.get(10, 81, 1, 5000), t.get(11, 80, 1, 5000)]).toEqual([undefined, 7, 3]);
    for (const [la, lp] of [[10, 81], [11, 80]] as const) t.delete(la, lp, 1, 5000);
    expect(t.size).toBe(1);
    expect(t.has(10, 80, 1, 5001)).toBe(true);
  });
});

describe('RTO estimator (RFC 6298)', () => {
  const b = { rtoInitialMs: 1000, rtoMinMs: 200, rtoMaxMs: 60_000 };

  it('starts at 1 s; first sample sets SRTT = R, RTTVAR = R/2; later ones smooth with 1/8 and 1/4', () => {
    const s = rtoInit(b);
    expect(s.rtoUs).toBe(1_000_000);
    rtoSample(s, 100_000, b);
    expect(s.srttUs).toBe(100_000);
    expect(s.rttvarUs).toBe(50_000);
    expect(s.rtoUs).toBe(300_000); // 100 + 4 * 50 ms
    rtoSample(s, 200_000, b);
    expect(s.rttvarUs).toBe(Math.floor((3 * 50_000 + 100_000) / 4));
    expect(s.srttUs).toBe(Math.floor((7 * 100_000 + 200_000) / 8));
    expect(s.rtoUs).toBe(s.srttUs + 4 * s.rttvarUs);
  });

  it('clamps to the minimum and maximum and doubles on backoff', () => {
    const s = rtoInit(b);
    rtoSample(s, 1000, b);
    expect(s.rtoUs).toBe(200_000);
    rtoBackoff(s, b);
    expect(s.rtoUs).toBe(400_000);
    for (let i = 0; i < 20; i++) rtoBackoff(s, b);
    expect(s.rtoUs).toBe(60_000_000);
  });

  it('goes to 3 s after a SYN timeout when no sample was taken (RFC 6298 (5.7))', () => {
    const s = rtoInit(b);
    rtoBackoff(s, b);
    rtoAfterSynTimeout(s, b);
    expect(s.rtoUs).toBe(3_000_000);
  });
});

describe('HalfSipHash-2-4 (the RFC 6528 F)', () => {
  it('matches the reference test vectors (key 00..07)', () => {
    // vectors_hsip32[0] and [4] of the reference implementation.
    expect(halfSipHash24(0x03020100, 0x07060504, [])).toBe(0x5b9f35a9);
    expect(halfSipHash24(0x03020100, 0x07060504, [0x03020100])).toBe(0x89466e2a);
  });
});

describe('reassembly', () => {
  it('holds disjoint pieces, keeps the first copy of overlapping bytes, delivers in order', () => {
    const r = newReassembly();
    const d = bytes(100, 4);
    const base = 0xfffffff0; // across the 2^32 wrap
    const at = (i: number): number => (base + i) >>> 0;
    expect(reassemblyInsert(r, at(50), d.subarray(50, 60), 1000)).toBe(true);
    expect(reassemblyInsert(r, at(40), d.subarray(40, 70), 1000)).toBe(true);
    expect(reassemblyInsert(r, at(10), d.subarray(10, 20), 1000)).toBe(true);
    expect(r.bytes).toBe(40);
    expect(reassemblyTake(r, at(5))).toEqual([]);
    const got = reassemblyTake(r, at(10));
    expect(concat(got)).toEqual(d.subarray(10, 20));
    expect(reassemblyInsert(r, at(20), d.subarray(20, 40), 1000)).toBe(true);
    expect(concat(reassemblyTake(r, at(20)))).toEqual(d.subarray(20, 70));
    expect(r.bytes).toBe(0);
    expect(r.segs).toEqual([]);
  });

  it('drops what exceeds the byte limit and the piece limit', () => {
    const r = newReassembly();
    expect(reassemblyInsert(r, 100, bytes(60), 50)).toBe(false);
    expect(r.bytes).toBe(50);
    const s = newReassembly();
    for (let i = 0; i < MAX_SEGMENTS; i++) expect(reassemblyInsert(s, i * 2, bytes(1), 1 << 20)).toBe(true);
    expect(reassemblyInsert(s, MAX_SEGMENTS * 2, bytes(1), 1 << 20)).toBe(false);
  });

  it('drops held bytes that a retransmission already delivered', () => {
    const r = newReassembly();
    reassemblyInsert(r, 10, bytes(10, 1), 100);
    expect(concat(reassemblyTake(r, 15))).toEqual(bytes(10, 1).subarray(5));
    reassemblyInsert(r, 30, bytes(10, 1), 100);
    expect(reassemblyTake(r, 45)).toEqual([]);
    expect(r.bytes).toBe(0);
  });
});

describe('timers', () => {
  it('earliest() ignores disarmed timers', () => {
    const t = newTimers();
    expect(earliest(t)).toBe(-1);
    t[Timer.KeepAlive] = 50;
    t[Timer.DelayedAck] = 20;
    expect(earliest(t)).toBe(20);
  });

  it('the heap pops by deadline, then id', () => {
    const h = new DeadlineHeap();
    const items: [number, number][] = [[5, 3], [1, 9], [5, 1], [3, 2], [1, 4], [9, 9], [0, 7]];
    for (const [d, id] of items) h.push(d, id);
    const out: [number, number][] = [];
    while (h.size > 0) {
      out.push([h.peekDeadline()!, h.peekId()!]);
      h.pop();
    }
    expect(out).toEqual([[0, 7], [1, 4], [1, 9], [3, 2], [5, 1], [5, 3], [9, 9]]);
  });
});

describe('congestion control (RFC 5681, RFC 6582, RFC 6928)', () => {
  const mss = 1000;
  it('initial window is 10 segments at most, 14600 bytes, at least 2 segments', () => {
    expect(initialWindow(1460)).toBe(14_600);
    expect(initialWindow(536)).toBe(5360);
    expect(initialWindow(9000)).toBe(18_000);
  });

  it('slow start adds min(acked, MSS) per ACK; congestion avoidance one MSS per window', () => {
    const s = newRenoController.init(mss);
    const ack = (n: number): void => {
      newRenoController.onAck(s, { ackedBytes: n, flightBefore: s.cwnd, mss, nowUs: 0, srttUs: -1 });
    };
    ack(5000);
    expect(s.cwnd).toBe(10_000 + 1000);
    s.ssthresh = 11_000;
    for (let i = 0; i < 10; i++) ack(1000);
    expect(s.cwnd).toBe(11_000);
    ack(1000);
    expect(s.cwnd).toBe(12_000);
  });

  it('a congestion event halves FlightSize into ssthresh (RFC 5681 eq. 4), at least 2 MSS', () => {
    const s = newRenoController.init(mss);
    newRenoController.onCongestion(s, 10_000, mss, 0);
    expect(s.ssthresh).toBe(5000);
    newRenoController.onCongestion(s, 3000, mss, 0);
    expect(s.ssthresh).toBe(2000);
  });

  it('an RTO collapses cwnd to one segment; ssthresh is reduced on the first timeout only', () => {
    const s = newRenoController.init(mss);
    newRenoController.onTimeout(s, 8000, mss, true);
    expect(s.cwnd).toBe(1000);
    expect(s.ssthresh).toBe(4000);
    newRenoController.onTimeout(s, 2000, mss, false);
    expect(s.ssthresh).toBe(4000);
  });
});

describe('config', () => {
  it('fills in the documented defaults', () => {
    const c = resolveConfig({ addresses: [1], seed: 5 });
    expect(c).toMatchObject({
      mtu: 1500,
      mslMs: 30_000,
      sendBufferBytes: 1_048_576,
      recvBufferBytes: 1_048_576,
      reassemblyLimitBytes: 1_048_576,
      listenBacklog: 128,
      maxConnections: 10_000,
      rtoInitialMs: 1000,
      rtoMinMs: 200,
      rtoMaxMs: 120_000,
      maxRetries: 15,
      synRetries: 6,
      delayedAckMs: 40,
      ttl: 64,
      windowScaling: true,
      windowScale: 8,
      timestamps: true,
      sack: true,
      dsack: true,
      congestionControl: 'cubic',
      challengeAckLimit: 1000,
    });
  });
});
