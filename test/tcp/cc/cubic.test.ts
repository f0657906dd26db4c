/** CUBIC (RFC 9438) in integer arithmetic: its numbers against the RFC's real-valued formulas. */
import { describe, expect, it } from 'vitest';
import { cubicController, icbrt, wCubic } from '../../../src/tcp/cc/cubic.js';
import type { AckSample, CcState } from '../../../src/tcp/congestion.js';

const mss = 1000;
const ack = (s: CcState, nowUs: number, ackedBytes = mss, srttUs = 100_000): void => {
  const a: AckSample = { ackedBytes, flightBefore: s.cwnd, mss, nowUs, srttUs };
  cubicController.onAck(s, a);
};

describe('CUBIC (RFC 9438)', () => {
  it('integer cube root is floor(cbrt(n)) on small, exact and huge values', () => {
    for (let n = 0; n < 2000; n++) {
      const r = Number(icbrt(BigInt(n)));
      expect(r ** 3 <= n && (r + 1) ** 3 > n, `icbrt(${n}) = ${r}`).toBe(true);
    }
    const big = 123_456_789_012n;
    expect(icbrt(big ** 3n)).toBe(big);
    expect(icbrt(big ** 3n - 1n)).toBe(big - 1n);
  });

  it('a congestion event: ssthresh = 0.7 FlightSize, W_max = cwnd, then fast convergence', () => {
    const s = cubicController.init(mss);
    s.cwnd = 100_000;
    cubicController.onCongestion(s, 100_000, mss, 0);
    expect(s.ssthresh).toBe(70_000);
    expect(s.cubic!.wMax).toBe(100_000);
    s.cwnd = 80_000; // the next loss comes below the old plateau
    cubicController.onCongestion(s, 80_000, mss, 0);
    expect(s.cubic!.wMax).toBe(68_000); // 80000 * (1 + 0.7) / 2
    expect(s.ssthresh).toBe(56_000);
    cubicController.onCongestion(s, 1000, mss, 0);
    expect(s.ssthresh).toBe(2 * mss); // at least 2 MSS
  });

  it('K and W_cubic(t) agree with the real-valued formulas of RFC 9438 eq. 1 and 2', () => {
    const s = cubicController.init(mss);
    s.cwnd = 100_000;
    cubicController.onCongestion(s, 100_000, mss, 0);
    s.cwnd = s.ssthresh;
    ack(s, 5_000_000); // starts the epoch
    const c = s.cubic!;
    const kSec = Math.cbrt((100 - 70) / 0.4); // segments
    expect(Math.abs(c.kUs / 1e6 - kSec)).toBeLessThan(1e-6);
    for (const t of [0, 0.5, 1, kSec, 5, 10]) {
      const want = (0.4 * (t - kSec) ** 3 + 100) * mss;
      expect(Math.abs(wCubic(c, Math.round(t * 1e6), mss) - want)).toBeLessThanOrEqual(2);
    }
  });

  it('grows concave towards W_max, plateaus there, then convex beyond; never more than 1.5x per RTT', () => {
    const s = cubicController.init(mss);
    s.cwnd = 100_000;
    cubicController.onCongestion(s, 100_000, mss, 0);
    s.cwnd = s.ssthresh;
    let now = 1_000_000;
    const rtt = 100_000;
    const perRtt: number[] = [];
    for (let r = 0; r < 80; r++) {
      const before = s.cwnd;
      const n = Math.floor(s.cwnd / mss);
      for (let i = 0; i < n; i++) ack(s, now + Math.floor((rtt * i) / n), mss, rtt);
      now += rtt;
      expect(s.cwnd).toBeLessThanOrEqual(Math.floor(before * 1.5) + mss);
      perRtt.push(s.cwnd);
    }
    // Near K (about 4.2 s) the window sits close to W_max = 100 segments.
    const nearK = perRtt[41]!;
    expect(nearK).toBeGreaterThan(95_000);
    expect(nearK).toBeLessThan(106_000);
    // Concave before K: the growth per RTT shrinks; convex after: it grows.
    expect(perRtt[5]! - perRtt[4]!).toBeGreaterThan(perRtt[35]! - perRtt[34]!);
    expect(perRtt[79]! - perRtt[78]!).toBeGreaterThan(perRtt[50]! - perRtt[49]!);
  });

  it('the Reno-friendly region keeps cwnd at least at W_est when W_cubic is slower (small W_max, long RTT)', () => {
    const s = cubicController.init(mss);
    s.cwnd = 20_000;
    cubicController.onCongestion(s, 20_000, mss, 0);
    s.cwnd = s.ssthresh; // 14 segments; K = cbrt(6 / 0.4) = 2.47 s
    let now = 0;
    const rtt = 1_000_000; // a long RTT: W_cubic barely moves per RTT at first
    for (let r = 0; r < 3; r++) {
      const n = Math.floor(s.cwnd / mss);
      for (let i = 0; i < n; i++) ack(s, now, mss, rtt);
      now += rtt;
    }
    // W_est grows by alpha = 9/17 segment per RTT: about 15.6 segments after three RTTs.
    expect(s.cubic!.wEst).toBeGreaterThanOrEqual(15_400);
    expect(s.cwnd).toBeGreaterThanOrEqual(s.cubic!.wEst);
  });

  it('does not grow while application-limited, and slow start below ssthresh adds min(acked, MSS)', () => {
    const s = cubicController.init(mss);
    cubicController.onAck(s, { ackedBytes: 5000, flightBefore: 10_000, mss, nowUs: 0, srttUs: -1 });
    expect(s.cwnd).toBe(11_000);
    s.ssthresh = 11_000;
    cubicController.onAck(s, { ackedBytes: 1000, flightBefore: 2000, mss, nowUs: 10_000_000, srttUs: 100_000 });
    expect(s.cwnd).toBe(11_000);
  });

  it('after a timeout: cwnd = 1 MSS, ssthresh from beta once, and the next stage starts with K = 0', () => {
    const s = cubicController.init(mss);
    s.cwnd = 50_000;
    cubicController.onTimeout(s, 40_000, mss, true);
    expect(s.cwnd).toBe(mss);
    expect(s.ssthresh).toBe(28_000);
    cubicController.onTimeout(s, 1000, mss, false);
    expect(s.ssthresh).toBe(28_000);
    s.cwnd = 28_000;
    ack(s, 1_000_000);
    expect(s.cubic!.kUs).toBe(0);
    expect(s.cubic!.origin).toBe(28_000);
  });

  it('is bit-for-bit reproducible: the same inputs give the same state', () => {
    const run = (): CcState => {
      const s = cubicController.init(1448);
      let now = 0;
      for (let i = 0; i < 5000; i++) {
        now += 997 + (i % 13);
        if (i % 700 === 699) cubicController.onCongestion(s, s.cwnd, 1448, now);
        else cubicController.onAck(s, { ackedBytes: 1448 * (1 + (i % 2)), flightBefore: s.cwnd, mss: 1448, nowUs: now, srttUs: 20_000 + (i % 7) });
      }
      return s;
    };
    expect(run()).toEqual(run());
  });
});
