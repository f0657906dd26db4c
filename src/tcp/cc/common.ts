/** Constants and rules shared by the congestion controllers (kept apart from ../congestion.ts, which registers them). */
import type { AckSample, CcState } from '../congestion.js';

/** A very large ssthresh: "arbitrarily high" initial value (RFC 5681 §3.1). */
export const SSTHRESH_INFINITE = 0x3fffffff;
/** cwnd never grows beyond this (bytes), so every product stays an exact integer. */
export const CWND_MAX = 0x3fffffff;

/** RFC 5681 §3.1 eq. 2: slow start, cwnd += min(N, SMSS). */
export function slowStart(s: CcState, a: AckSample): void {
  s.cwnd = Math.min(s.cwnd + Math.min(a.ackedBytes, a.mss), CWND_MAX);
}

/**
 * Is the sender using its window? RFC 9438 §4.2 / RFC 7661: cwnd does not grow while the
 * application, not cwnd, limits what is in flight (one MSS of slack for the last segment).
 */
export function cwndLimited(s: CcState, a: AckSample): boolean {
  return a.flightBefore + a.mss > s.cwnd;
}
