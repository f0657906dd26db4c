/**
 * Reno congestion control, RFC 5681 §3.1: slow start (eq. 2) and congestion avoidance (one
 * SMSS per cwnd of acknowledged bytes, the byte-counting alternative to eq. 3), and the
 * ssthresh reductions of eq. 4. Fast retransmit / fast recovery with the RFC 6582 NewReno
 * partial-ACK rule, shared with CUBIC, is in ../recovery.ts.
 */
import type { AckSample, CcState, CongestionControl } from '../congestion.js';
import { CWND_MAX, SSTHRESH_INFINITE } from './common.js';
import { slowStartAck } from './slow-start.js';
import { initialWindow } from './initial-window.js';

/** RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS). */
export function renoSsthresh(flight: number, mss: number): number {
  return Math.max(Math.floor(flight / 2), 2 * mss);
}

/** RFC 5681 §3.1 congestion avoidance: cwnd += SMSS once a whole cwnd has been acknowledged. */
export function renoCongestionAvoidance(s: CcState, a: AckSample): void {
  s.bytesAcked += a.ackedBytes;
  if (s.bytesAcked >= s.cwnd) {
    s.bytesAcked -= s.cwnd;
    s.cwnd = Math.min(s.cwnd + a.mss, CWND_MAX);
  }
}

export const newRenoController: CongestionControl = {
  name: 'newreno',

  init(mss: number): CcState {
    return { algorithm: 'newreno', cwnd: initialWindow(mss), ssthresh: SSTHRESH_INFINITE, bytesAcked: 0 };
  },

  onAck(s: CcState, a: AckSample): void {
    if (s.cwnd < s.ssthresh) slowStartAck(s, a);
    else renoCongestionAvoidance(s, a);
  },

  onCongestion(s: CcState, flight: number, mss: number): void {
    s.ssthresh = renoSsthresh(flight, mss);
    s.bytesAcked = 0;
  },

  onTimeout(s: CcState, flight: number, mss: number, firstTimeout: boolean): void {
    // RFC 5681 §3.1: eq. 4 on the first timeout, cwnd = LW = 1 SMSS.
    if (firstTimeout) s.ssthresh = renoSsthresh(flight, mss);
    s.cwnd = mss;
    s.bytesAcked = 0;
  },
};
