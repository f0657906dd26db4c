/**
 * Reno congestion control (RFC 5681 §3.1 slow start and congestion avoidance, §3.2 fast
 * retransmit / fast recovery) with the NewReno partial-ACK rule of RFC 6582 §3.2, which
 * recovers several losses in one window without waiting for an RTO.
 */
import type { AckInfo, CcAction, CcState, CongestionControl } from '../congestion.js';
import { initialWindow } from './initial-window.js';
import { seqGe, seqGt } from '../wire/seq.js';

/** A very large ssthresh: "arbitrarily high" initial value (RFC 5681 §3.1). */
const SSTHRESH_INFINITE = 0x3fffffff;
const DUPACK_THRESHOLD = 3;

export const newRenoController: CongestionControl = {
  name: 'newreno',

  init(mss: number, iss: number): CcState {
    return {
      algorithm: 'newreno',
      cwnd: initialWindow(mss),
      ssthresh: SSTHRESH_INFINITE,
      bytesAcked: 0,
      inRecovery: false,
      recover: iss,
    };
  },

  onAck(s: CcState, a: AckInfo): CcAction {
    if (s.inRecovery) {
      if (seqGe(a.ack, s.recover)) {
        // RFC 6582 §3.2 step 3, full acknowledgment: deflate the window.
        s.cwnd = Math.max(Math.min(s.ssthresh, Math.max(a.flightBefore - a.ackedBytes, 0) + a.mss), a.mss);
        s.inRecovery = false;
        s.bytesAcked = 0;
        return 'none';
      }
      // RFC 6582 §3.2 step 3, partial acknowledgment: retransmit the first unacknowledged
      // segment, deflate by the amount acknowledged, add back one MSS if >= MSS was acked.
      s.cwnd = Math.max(s.cwnd - a.ackedBytes + (a.ackedBytes >= a.mss ? a.mss : 0), a.mss);
      return 'partial-ack-retransmit';
    }
    if (s.cwnd < s.ssthresh) {
      // RFC 5681 §3.1 eq. 2: slow start, cwnd += min(N, SMSS).
      s.cwnd += Math.min(a.ackedBytes, a.mss);
    } else {
      // RFC 5681 §3.1: congestion avoidance, one SMSS per cwnd of acknowledged bytes.
      s.bytesAcked += a.ackedBytes;
      if (s.bytesAcked >= s.cwnd) {
        s.bytesAcked -= s.cwnd;
        s.cwnd += a.mss;
      }
    }
    return 'none';
  },

  onDupAck(s: CcState, a: AckInfo): CcAction {
    if (s.inRecovery) {
      // RFC 5681 §3.2 step 4: inflate by one SMSS per additional duplicate ACK.
      s.cwnd += a.mss;
      return 'none';
    }
    if (a.dupAcks !== DUPACK_THRESHOLD) return 'none';
    // RFC 6582 §3.2 step 1/2: enter fast retransmit only if the ACK covers more than
    // `recover` (avoids a false fast retransmit after an RTO).
    if (!seqGt(a.ack, s.recover)) return 'none';
    // RFC 5681 §3.2 step 2 (eq. 4) and step 3.
    s.ssthresh = Math.max(Math.floor(a.flightBefore / 2), 2 * a.mss);
    s.cwnd = s.ssthresh + DUPACK_THRESHOLD * a.mss;
    s.inRecovery = true;
    s.recover = a.sndMax;
    s.bytesAcked = 0;
    return 'fast-retransmit';
  },

  onTimeout(s: CcState, flight: number, sndMax: number, mss: number): void {
    // RFC 5681 §3.1 eq. 4 and "loss window" LW = 1 SMSS; RFC 6582 §4: recover = highest sent.
    s.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    s.cwnd = mss;
    s.inRecovery = false;
    s.recover = sndMax;
    s.bytesAcked = 0;
  },
};
