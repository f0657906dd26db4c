/**
 * Congestion control behind a small interface: the controller decides how large cwnd and
 * ssthresh are (RFC 5681 slow start and congestion avoidance, or CUBIC, RFC 9438); loss
 * detection and recovery (RFC 5681 §3.2 / RFC 6582 fast recovery, RFC 6675 SACK loss
 * recovery) are the same for every controller and live in recovery.ts, which calls
 * onCongestion() when recovery starts and onTimeout() when the retransmission timer fires.
 *
 * State is plain data (integers only, so a backup replaying the same inputs computes the
 * same cwnd bit for bit), tagged with the algorithm's name, so it snapshots and replicates
 * with the connection.
 */
import { cubicController } from './cc/cubic.js';
import { newRenoController } from './cc/newreno.js';
import type { HystartState } from './cc/slow-start.js';
import type { CongestionControlName } from './types.js';

export { initialWindow } from './cc/initial-window.js';
export { CWND_MAX, cwndLimited, slowStart, SSTHRESH_INFINITE } from './cc/common.js';

/** CUBIC's own state (RFC 9438 §4.1 variables), integers in bytes and microseconds. */
export interface CubicState {
  /** W_max: cwnd just before the last reduction (fast convergence applied), bytes. */
  wMax: number;
  /** cwnd_prior: cwnd before the last reduction, bytes (RFC 9438 §4.3, alpha_cubic). */
  cwndPrior: number;
  /** Start of the current congestion avoidance stage (epoch), µs; -1: none yet. */
  epochStartUs: number;
  /** K: time for W_cubic to reach the plateau, µs (RFC 9438 eq. 2). */
  kUs: number;
  /** The plateau W_cubic tends to (W_max, or cwnd_epoch when above it), bytes. */
  origin: number;
  /** W_est: the Reno-friendly estimate (RFC 9438 §4.3), bytes, and its fractional credit. */
  wEst: number;
  estCredit: number;
  /** Credit towards the next MSS of cubic growth (sum of acked * (target - cwnd)). */
  growCredit: number;
}

export interface CcState {
  algorithm: CongestionControlName;
  /** Congestion window, bytes (RFC 5681 §2). */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 5681 §3.1, the eq. 3 alternative). */
  bytesAcked: number;
  /** CUBIC's state; absent for NewReno. */
  cubic?: CubicState;
  /**
   * Profile 'linux' (set at init): slow start credits one SMSS per acknowledged segment
   * (cc/slow-start.ts), and CUBIC reduces ssthresh from cwnd rather than FlightSize (cc/cubic.ts).
   */
  perSegment?: boolean;
  /** RFC 9406 HyStart++ state, when StackConfig.hystart is on (cc/slow-start.ts). */
  hystart?: HystartState;
}

/** What the controller learns from an ACK of new data outside loss recovery. */
export interface AckSample {
  /** Bytes newly acknowledged. */
  ackedBytes: number;
  /** Bytes in flight before this ACK (SND.MAX - old SND.UNA). */
  flightBefore: number;
  /** Effective sender MSS. */
  mss: number;
  /** Time of the ACK, µs. */
  nowUs: number;
  /** Smoothed RTT, µs, or -1 before the first sample. */
  srttUs: number;
  /** RFC 6937 DeliveredData of this ACK (bytes newly acknowledged or SACKed, less those SACKed before); none: ackedBytes. */
  deliveredBytes?: number;
}

export interface CongestionControl {
  readonly name: CongestionControlName;
  init(mss: number): CcState;
  /** New data acknowledged outside loss recovery: slow start or congestion avoidance. */
  onAck(s: CcState, a: AckSample): void;
  /**
   * Loss detected by duplicate ACKs or SACK (fast retransmit): set ssthresh from FlightSize
   * (RFC 5681 eq. 4; RFC 9438 §4.6). The recovery algorithm then sets cwnd from ssthresh.
   */
  onCongestion(s: CcState, flight: number, mss: number, nowUs: number): void;
  /**
   * The retransmission timer expired: cwnd = loss window (1 SMSS); ssthresh is reduced
   * only on the first timeout of a segment (RFC 5681 §3.1: held constant on the later ones).
   */
  onTimeout(s: CcState, flight: number, mss: number, firstTimeout: boolean): void;
}

const registry: ReadonlyMap<CongestionControlName, CongestionControl> = new Map<CongestionControlName, CongestionControl>([
  [newRenoController.name, newRenoController],
  [cubicController.name, cubicController],
]);

export function congestionControl(name: CongestionControlName): CongestionControl {
  const cc = registry.get(name);
  if (cc === undefined) throw new RangeError(`unknown congestion control '${String(name)}'`);
  return cc;
}
