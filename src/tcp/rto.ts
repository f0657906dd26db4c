/**
 * Retransmission timeout estimator, RFC 6298. State is plain data in microseconds; all
 * arithmetic is on integers so that replicas compute identical values.
 */

export interface RtoState {
  /** Smoothed RTT (µs); -1 until the first sample. */
  srttUs: number;
  rttvarUs: number;
  /** Current RTO (µs), backoff included. */
  rtoUs: number;
}

/** RFC 6298 (2): clock granularity G. Our clock is in µs; we use 1 ms, as Linux's jiffies-free path. */
const GRANULARITY_US = 1000;

export interface RtoBounds {
  rtoInitialMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  /** 'linux': the floor applies to the variance term, not to the RTO (see rtoFromEstimate). */
  profile?: 'rfc' | 'linux';
}

/** RFC 6298 (2.1): until a measurement is made, RTO = initial (1 s by default). */
export function rtoInit(b: RtoBounds): RtoState {
  return { srttUs: -1, rttvarUs: 0, rtoUs: b.rtoInitialMs * 1000 };
}

function clamp(rtoUs: number, b: RtoBounds): number {
  // RFC 6298 (2.4): round up to the minimum; (2.5): a maximum may be placed.
  return Math.min(Math.max(rtoUs, b.rtoMinMs * 1000), b.rtoMaxMs * 1000);
}

/**
 * RFC 6298 (2.2)/(2.3): RTO = SRTT + max(G, K*RTTVAR), then (2.4) rounded up to RTO.min.
 * Profile 'linux' puts the minimum on the variance term instead, RTO = SRTT +
 * max(K*RTTVAR, RTO.min) (Linux's tcp_set_rto with rttvar_us floored at tcp_rto_min): never
 * below what (2.4) gives, which sets only a lower bound ((2.5) an upper one), so both hold;
 * the RTO is larger by up to SRTT.
 */
function rtoFromEstimate(s: RtoState, b: RtoBounds): number {
  if (b.profile === 'linux') return Math.min(s.srttUs + Math.max(4 * s.rttvarUs, b.rtoMinMs * 1000), b.rtoMaxMs * 1000);
  return clamp(s.srttUs + Math.max(GRANULARITY_US, 4 * s.rttvarUs), b);
}

/** Feed one RTT measurement R (µs); only from segments never retransmitted (Karn, RFC 6298 (3)). */
export function rtoSample(s: RtoState, rUs: number, b: RtoBounds): void {
  const r = Math.max(1, Math.round(rUs));
  if (s.srttUs < 0) {
    // RFC 6298 (2.2): first measurement.
    s.srttUs = r;
    s.rttvarUs = Math.floor(r / 2);
  } else {
    // RFC 6298 (2.3): alpha = 1/8, beta = 1/4; RTTVAR uses the old SRTT.
    s.rttvarUs = Math.floor((3 * s.rttvarUs + Math.abs(s.srttUs - r)) / 4);
    s.srttUs = Math.floor((7 * s.srttUs + r) / 8);
  }
  s.rtoUs = rtoFromEstimate(s, b);
}

/** RFC 6298 (5.5): back off the timer, RTO <- RTO * 2, bounded by the maximum. */
export function rtoBackoff(s: RtoState, b: RtoBounds): void {
  s.rtoUs = Math.min(s.rtoUs * 2, b.rtoMaxMs * 1000);
}

/**
 * RFC 6298 (5.7): if the SYN timed out and the RTO is below 3 s, it is re-initialised to
 * 3 s when data transmission begins (the SYN gave no valid sample, by Karn's rule).
 */
export function rtoAfterSynTimeout(s: RtoState, b: RtoBounds): void {
  if (s.srttUs < 0) s.rtoUs = Math.min(3_000_000, b.rtoMaxMs * 1000);
}

/** The RTO without backoff, recomputed from SRTT/RTTVAR (after new data is acknowledged). */
export function rtoReset(s: RtoState, b: RtoBounds): void {
  if (s.srttUs >= 0) s.rtoUs = rtoFromEstimate(s, b);
}
