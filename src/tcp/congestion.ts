/**
 * Congestion control behind a small interface, so that later algorithms (CUBIC, RFC 9438;
 * SACK-based recovery, RFC 6675) slot in without touching the state machine.
 *
 * The controller only decides how much may be in flight (cwnd) and when loss recovery
 * starts; the sender (sender.ts) decides what to (re)send. State is plain data, tagged with
 * the algorithm's name, so it snapshots and replicates with the connection.
 */
import { newRenoController } from './cc/newreno.js';

export { initialWindow } from './cc/initial-window.js';

export interface CcState {
  algorithm: string;
  /** Congestion window, bytes (RFC 5681 §2). */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 5681 §3.1, eq. 3 alternative). */
  bytesAcked: number;
  /** In fast recovery (RFC 5681 §3.2 / RFC 6582). */
  inRecovery: boolean;
  /** RFC 6582 `recover`: the highest sequence number sent when recovery (or an RTO) began. */
  recover: number;
}

/** What the sender must do after the controller has seen an ACK. */
export type CcAction = 'none' | 'fast-retransmit' | 'partial-ack-retransmit';

export interface AckInfo {
  /** SEG.ACK. */
  ack: number;
  /** Bytes newly acknowledged (0 for a duplicate ACK). */
  ackedBytes: number;
  /** Bytes in flight before this ACK (SND.MAX - SND.UNA, old SND.UNA). */
  flightBefore: number;
  /** Consecutive duplicate ACKs counted so far (RFC 5681 §2), this one included. */
  dupAcks: number;
  /** SND.MAX: the highest sequence number sent + 1. */
  sndMax: number;
  /** Effective sender MSS. */
  mss: number;
}

export interface CongestionControl {
  readonly name: string;
  init(mss: number, iss: number): CcState;
  /** An ACK that acknowledges new data. */
  onAck(s: CcState, a: AckInfo): CcAction;
  /** A duplicate ACK (RFC 5681 §2 definition). */
  onDupAck(s: CcState, a: AckInfo): CcAction;
  /** The retransmission timer expired (RFC 5681 §3.1 eq. 4, loss window). */
  onTimeout(s: CcState, flight: number, sndMax: number, mss: number): void;
}

const registry = new Map<string, CongestionControl>([[newRenoController.name, newRenoController]]);

export const DEFAULT_CC = newRenoController.name;

export function congestionControl(name: string): CongestionControl {
  const cc = registry.get(name);
  if (cc === undefined) throw new RangeError(`unknown congestion control '${name}'`);
  return cc;
}
