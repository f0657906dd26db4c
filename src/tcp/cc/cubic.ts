/**
 * CUBIC congestion control, RFC 9438, in integer arithmetic: bytes and microseconds, the
 * cube in BigInt and K from an integer cube root, so that a backup replaying the same
 * inputs computes the same cwnd bit for bit (no Math.cbrt / Math.pow, whose last bit the
 * language does not fix). Time comes from the ACK's `now` only.
 *
 * Constants (RFC 9438 §4.1, §5): C = 0.4 segments/s^3, beta_cubic = 0.7, fast convergence
 * on, the Reno-friendly region with alpha_cubic = 3(1 - beta)/(1 + beta) = 9/17. Slow start
 * is RFC 5681's, with RFC 9406 HyStart++ when configured (slow-start.ts). Loss recovery itself is ../recovery.ts.
 */
import type { AckSample, CcState, CongestionControl, CubicState } from '../congestion.js';
import { CWND_MAX, cwndLimited, SSTHRESH_INFINITE } from './common.js';
import { slowStartAck } from './slow-start.js';
import { initialWindow } from './initial-window.js';

/** beta_cubic = 7/10 (RFC 9438 §4.6). */
const BETA_NUM = 7;
const BETA_DEN = 10;
/** W_cubic(t) = C (t - K)^3 + W_max with C = 2/5 segments per s^3, t in µs: bytes = 2 mss (t-K)^3 / (5 * 10^18). */
const CUBE_DEN = 5_000_000_000_000_000_000n;
const CWND_MAX_BIG = BigInt(CWND_MAX);

/** floor(cbrt(n)) for n >= 0, by Newton's method from above (exact on integers). */
export function icbrt(n: bigint): bigint {
  if (n <= 0n) return 0n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 3)); // >= cbrt(n)
  for (;;) {
    const y = (2n * x + n / (x * x)) / 3n;
    if (y >= x) return x;
    x = y;
  }
}

/** RFC 9438 eq. 1: W_cubic(t), bytes, t µs since the epoch began. */
export function wCubic(c: CubicState, tUs: number, mss: number): number {
  const d = BigInt(tUs - c.kUs);
  const a = d < 0n ? -d : d;
  const delta = (2n * BigInt(mss) * a * a * a) / CUBE_DEN;
  const dn = Number(delta > CWND_MAX_BIG ? CWND_MAX_BIG : delta);
  return d < 0n ? Math.max(c.origin - dn, 0) : Math.min(c.origin + dn, CWND_MAX);
}

/** RFC 9438 §4.2 / eq. 2: a congestion avoidance stage starts; K from W_max and cwnd_epoch. */
function startEpoch(s: CcState, c: CubicState, a: AckSample): void {
  c.epochStartUs = a.nowUs;
  c.wEst = s.cwnd; // §4.3: W_est = cwnd_epoch
  c.estCredit = 0;
  c.growCredit = 0;
  if (s.cwnd < c.wMax) {
    // K = cbrt((W_max - cwnd_epoch) / C), in µs: K^3 = (W_max - cwnd) * 5e18 / (2 mss).
    c.kUs = Number(icbrt((BigInt(c.wMax - s.cwnd) * CUBE_DEN) / BigInt(2 * a.mss)));
    c.origin = c.wMax;
  } else {
    // At or above the old plateau (slow start overshot it, or §4.8 after a timeout, where
    // W_max is the cwnd at the start of the stage and K = 0): convex growth from here.
    c.kUs = 0;
    c.origin = s.cwnd;
  }
}

/**
 * RFC 9438 §4.6: ssthresh = flight_size * beta_cubic, at least 2 MSS. "Some implementations
 * of CUBIC currently use cwnd instead of flight_size"; the RFC allows it, and profile
 * 'linux' (CcState.perSegment) does it as Linux's bictcp_recalc_ssthresh does, in whole
 * segments with beta = 717/1024 (cwnd validation, RFC 7661, keeps cwnd from growing
 * beyond what is used, as the RFC asks of that choice).
 */
function reducedSsthresh(s: CcState, flight: number, mss: number): number {
  if (s.perSegment === true) return Math.max(Math.floor((Math.floor(s.cwnd / mss) * 717) / 1024), 2) * mss;
  return Math.max(Math.floor((flight * BETA_NUM) / BETA_DEN), 2 * mss);
}

export const cubicController: CongestionControl = {
  name: 'cubic',

  init(mss: number): CcState {
    return {
      algorithm: 'cubic',
      cwnd: initialWindow(mss),
      ssthresh: SSTHRESH_INFINITE,
      bytesAcked: 0,
      cubic: { wMax: 0, cwndPrior: 0, epochStartUs: -1, kUs: 0, origin: 0, wEst: 0, estCredit: 0, growCredit: 0 },
    };
  },

  onAck(s: CcState, a: AckSample): void {
    const c = s.cubic!;
    if (s.cwnd < s.ssthresh) {
      slowStartAck(s, a); // RFC 9438 §4.10 (with RFC 9406 HyStart++ when configured)
      return;
    }
    if (!cwndLimited(s, a)) return; // RFC 9438 §5.8: no growth while application-limited
    if (c.epochStartUs < 0) startEpoch(s, c, a);
    const tUs = a.nowUs - c.epochStartUs;
    // §4.3 Reno-friendly region: W_est += alpha_cubic * segments_acked / cwnd, with
    // alpha_cubic = 9/17 until W_est reaches cwnd_prior, then 1.
    const alphaNum = c.wEst >= c.cwndPrior ? 17 : 9;
    c.estCredit += alphaNum * a.mss * a.ackedBytes;
    const estDen = 17 * s.cwnd;
    if (c.estCredit >= estDen) {
      const inc = Math.floor(c.estCredit / estDen);
      c.wEst = Math.min(c.wEst + inc, CWND_MAX);
      c.estCredit -= inc * estDen;
    }
    if (wCubic(c, tUs, a.mss) < c.wEst) {
      // "cwnd SHOULD be set to W_est at each reception of a new ACK."
      s.cwnd = Math.max(s.cwnd, c.wEst);
      return;
    }
    // §4.4 concave / §4.5 convex regions: target = W_cubic(t + RTT), kept within
    // [cwnd, 1.5 cwnd] (§4.2), and cwnd += (target - cwnd) / cwnd per acknowledged segment,
    // credited in bytes and applied one MSS at a time.
    const rttUs = Math.max(a.srttUs, 0);
    const target = Math.min(Math.max(wCubic(c, tUs + rttUs, a.mss), s.cwnd), Math.floor((3 * s.cwnd) / 2));
    c.growCredit += a.ackedBytes * (target - s.cwnd);
    const growDen = s.cwnd * a.mss;
    if (c.growCredit >= growDen) {
      const inc = Math.floor(c.growCredit / growDen);
      c.growCredit -= inc * growDen;
      s.cwnd = Math.min(s.cwnd + inc * a.mss, CWND_MAX);
    }
  },

  onCongestion(s: CcState, flight: number, mss: number): void {
    const c = s.cubic!;
    // §4.7 fast convergence: a flow whose plateau shrank releases bandwidth sooner.
    c.wMax = s.cwnd < c.wMax ? Math.floor((s.cwnd * (BETA_DEN + BETA_NUM)) / (2 * BETA_DEN)) : s.cwnd;
    c.cwndPrior = s.cwnd;
    // §4.6: ssthresh = flight_size * beta_cubic, at least 2 MSS; cwnd follows (recovery.ts).
    s.ssthresh = reducedSsthresh(s, flight, mss);
    c.epochStartUs = -1;
    s.bytesAcked = 0;
  },

  onTimeout(s: CcState, flight: number, mss: number, firstTimeout: boolean): void {
    const c = s.cubic!;
    // §4.8: ssthresh as in §4.6, cwnd as Reno (the loss window); the next congestion
    // avoidance stage starts with K = 0 and W_max = the cwnd it starts from (wMax = 0 does
    // that in startEpoch), W_est likewise.
    if (firstTimeout) {
      c.cwndPrior = s.cwnd;
      s.ssthresh = reducedSsthresh(s, flight, mss);
    }
    c.wMax = 0;
    c.epochStartUs = -1;
    s.cwnd = mss;
    s.bytesAcked = 0;
  },
};
