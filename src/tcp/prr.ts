/**
 * Proportional Rate Reduction, RFC 6937, for SACK loss recovery: instead of RFC 6675's
 * cwnd = ssthresh at once (a pause, then a burst), each ACK during recovery lets out data
 * in proportion to what it delivered, so that the flight shrinks smoothly to ssthresh by
 * the end of the recovery (while pipe > ssthresh), and then grows back towards it no
 * faster than slow start would (the reduction bound, while pipe <= ssthresh).
 *
 * Byte counts, integers; the state (prr_delivered, prr_out, RecoverFS) is part of the
 * recovery state in the TCB (recovery.ts), so it snapshots and replicates.
 */

export interface PrrState {
  /** RFC 6937 §3 prr_delivered: bytes delivered to the receiver since recovery began. */
  prrDelivered: number;
  /** RFC 6937 §3 prr_out: bytes sent since recovery began. */
  prrOut: number;
  /** RFC 6937 §3 RecoverFS: snd.nxt - snd.una when recovery began. */
  recoverFs: number;
}

/** RFC 6937 §3, initialisation on entering recovery (ssthresh having been set by the controller). */
export function prrInit(p: PrrState, flightSize: number): void {
  p.prrDelivered = 0;
  p.prrOut = 0;
  p.recoverFs = flightSize;
}

/**
 * RFC 6937 §3, on every ACK during recovery: DeliveredData (bytes newly acknowledged,
 * cumulatively or by SACK) joins prr_delivered, and the bytes that may be sent now are
 *  - pipe > ssthresh, the proportional part: CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out,
 *    the CEIL taken in whole segments;
 *  - else the reduction bound: PRR-SSRB (the default, RFC 6937 §3 "slow start reduction
 *    bound") MAX(prr_delivered - prr_out, DeliveredData) + MSS, or PRR-CRB (`conservative`)
 *    prr_delivered - prr_out; and no more than ssthresh - pipe. SSRB's MSS only with
 *    `slowStartMss` (profile 'linux', as Linux's tcp_cwnd_reduction: only on an ACK that
 *    advances SND.UNA; without it the bound lies between CRB and SSRB, which §3 allows).
 * Returns sndcnt (>= 0); the caller sets cwnd = pipe + sndcnt.
 */
export function prrSndcnt(p: PrrState, deliveredData: number, pipe: number, ssthresh: number, mss: number, conservative = false, slowStartMss = true): number {
  p.prrDelivered += deliveredData;
  let sndcnt: number;
  if (pipe > ssthresh) {
    // CEIL of the quota in whole segments (RFC 6937 §3 allows counting in segments; as
    // Linux), in exact integers: the product may pass 2^53, so BigInt.
    const den = BigInt(Math.max(p.recoverFs, 1) * mss);
    const segs = Number((BigInt(p.prrDelivered) * BigInt(ssthresh) + den - 1n) / den);
    sndcnt = segs * mss - p.prrOut;
  } else {
    const limit = conservative ? p.prrDelivered - p.prrOut : Math.max(p.prrDelivered - p.prrOut, deliveredData) + (slowStartMss ? mss : 0);
    sndcnt = Math.min(ssthresh - pipe, limit);
  }
  return Math.max(sndcnt, 0);
}

/** RFC 6937 §3: "On any data transmission or retransmission: prr_out += (data sent)". */
export function prrOnSend(p: PrrState, bytes: number): void {
  p.prrOut += bytes;
}
