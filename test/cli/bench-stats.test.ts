// The arithmetic of `ftcp bench` (src/lab/bench-stats.ts) and the log round-trip probe the
// replica process reports (src/net/log-rtt.ts): no processes, no timing assertions.
import { describe, expect, it } from 'vitest';
import { LogRttProbe } from '../../src/net/log-rtt.js';
import { jsonNumber, latencyVerdict, mbPerS, ratio, verdict } from '../../src/lab/bench-stats.js';
import { percentile } from '../../src/net/log-rtt.js';
import { encodeChannel } from '../../src/replica/channel.js';
import { encodeEntry } from '../../src/replica/log.js';

describe('percentile', () => {
  it('takes the nearest rank of the sorted samples', () => {
    const xs = [9, 1, 5, 3, 7, 2, 8, 4, 6, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([42], 99)).toBe(42);
  });

  it('does not reorder its input, and is NaN with no samples or a bad p', () => {
    const xs = [3, 1, 2];
    percentile(xs, 50);
    expect(xs).toEqual([3, 1, 2]);
    expect(percentile([], 50)).toBeNaN();
    expect(percentile(xs, 101)).toBeNaN();
    expect(percentile(xs, -1)).toBeNaN();
  });

  it('p50 of 30 failover trials is the 15th smallest, p99 the largest', () => {
    const xs = Array.from({ length: 30 }, (_, i) => 30 - i);
    expect(percentile(xs, 50)).toBe(15);
    expect(percentile(xs, 99)).toBe(30);
  });
});

describe('ratio and mbPerS', () => {
  it('divides, and refuses what is not a measurement', () => {
    expect(ratio(2, 4)).toBe(0.5);
    expect(ratio(0, 4)).toBe(0);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(NaN, 1)).toBeNaN();
    expect(ratio(1, Infinity)).toBeNaN();
    expect(ratio(-1, 2)).toBeNaN();
    expect(mbPerS(50_000_000, 2)).toBe(25);
  });
});

describe('targets', () => {
  it('compares a figure with its target in the right direction', () => {
    expect(verdict('stack.ratio65535', 0.5)).toBe('met');
    expect(verdict('stack.ratio65535', 0.49)).toBe('MISSED');
    expect(verdict('failover.p50Ms', 50)).toBe('met');
    expect(verdict('failover.p50Ms', 51)).toBe('MISSED');
    expect(verdict('failover.p99Ms', 100)).toBe('met');
    expect(verdict('failover.p99Ms', 101)).toBe('MISSED');
    expect(verdict('failover.broken', 1)).toBe('MISSED');
    expect(verdict('log.bytesPerClientByte', 1.2)).toBe('MISSED');
    expect(verdict('scale.bytesPerConnection', 4096)).toBe('met');
    expect(verdict('scale.bytesPerConnection.backup', 4097)).toBe('MISSED');
    expect(verdict('scale.connections', 99_999)).toBe('MISSED');
    expect(verdict('stack.ratio1500', 0.01)).toBe('report');
    expect(verdict('failover.p50Ms', NaN)).toBe('report');
  });

  it('the latency overhead is measured against 1.5 x the log round trip', () => {
    expect(latencyVerdict(150, 100)).toBe('met');
    expect(latencyVerdict(151, 100)).toBe('MISSED');
    expect(latencyVerdict(150, NaN)).toBe('report');
  });

  it('JSON numbers keep 4 significant digits; NaN becomes null', () => {
    expect(jsonNumber(0.123456)).toBe(0.1235);
    expect(jsonNumber(12345.6)).toBe(12350);
    expect(jsonNumber(NaN)).toBeNull();
    expect(jsonNumber(Infinity)).toBeNull();
  });
});

describe('LogRttProbe', () => {
  const entry = (index: number) => encodeEntry({ kind: 'tick', index, epoch: 1, timeUs: index * 10, checks: [] });
  const append = (first: number, count: number) => encodeChannel({ type: 'append', epoch: 1, r: first - 1, entries: Array.from({ length: count }, (_, i) => entry(first + i)) });
  const ack = (index: number) => encodeChannel({ type: 'ack', epoch: 1, index });

  it('times each append from its sending to the ack that covers its last entry', () => {
    const p = new LogRttProbe();
    p.sent(append(1, 2), 1000); // entries 1..2
    p.sent(append(3, 1), 1100); // entry 3
    p.received(ack(1), 1200); // covers neither append completely
    expect(p.samplesUs).toEqual([]);
    p.received(ack(2), 1300);
    expect(p.samplesUs).toEqual([300]);
    p.received(ack(3), 1600);
    expect(p.samplesUs).toEqual([300, 500]);
    expect(p.summary()).toEqual({ samples: 2, p50Us: 300, p99Us: 500 });
  });

  it('one cumulative ack ends every append it covers; other frames are ignored', () => {
    const p = new LogRttProbe();
    p.sent(append(1, 1), 0);
    p.sent(encodeChannel({ type: 'heartbeat', epoch: 1, r: 0, lastIndex: 1 }), 5);
    p.sent(append(2, 3), 10);
    p.received(encodeChannel({ type: 'resend', epoch: 1, from: 2 }), 15);
    p.received(ack(4), 40);
    expect(p.samplesUs).toEqual([40, 30]);
    p.received(ack(4), 50); // a duplicate ack times nothing
    expect(p.samplesUs).toHaveLength(2);
  });

  it('indices past 2^32 are read whole', () => {
    const p = new LogRttProbe();
    const big = 2 ** 32 + 5;
    p.sent(append(big, 1), 0);
    p.received(ack(big - 1), 1);
    expect(p.samplesUs).toEqual([]);
    p.received(ack(big), 2);
    expect(p.samplesUs).toEqual([2]);
  });

  it('reports nothing before any round trip', () => {
    expect(new LogRttProbe().summary()).toEqual({ samples: 0, p50Us: null, p99Us: null });
  });
});
