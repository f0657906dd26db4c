/**
 * Slow start for every controller: RFC 5681 §3.1 eq. 2 (common.ts `slowStart`), with two
 * options chosen per stack and kept in CcState so that they replicate with it:
 *
 * - HyStart++ (RFC 9406, StackConfig.hystart): in the first slow start, leave it when the
 *   round's minimum RTT has grown (§4.2), through Conservative Slow Start (CSS) for at most
 *   CSS_ROUNDS rounds, back to slow start when the RTT drops below the baseline again.
 * - Profile 'linux' (CcState.perSegment): one SMSS of credit per acknowledged segment,
 *   capped at ssthresh, and only while the sender uses its window (Linux tcp_slow_start,
 *   tcp_is_cwnd_limited). RFC 5681 §3.1 eq. 2 credits min(N, SMSS) per ACK; RFC 3465 §2.2
 *   (Appropriate Byte Counting) allows up to L = 2 SMSS, and RFC 9406 §4.2 L = 8 SMSS
 *   for an unpaced sender: crediting every acknowledged segment is that family's choice
 *   with no limit, which RFC 5681 §3.1 ("MAY ... more than one SMSS") does not forbid.
 *
 * Integers only (bytes, µs), as everywhere in cc/: a backup computes the same cwnd.
 */
import type { AckSample, CcState } from '../congestion.js';
import type { ResolvedConfig } from '../config.js';
import { CWND_MAX, slowStart, SSTHRESH_INFINITE } from './common.js';

/** RFC 9406 §4.3 constants. */
export const MIN_RTT_THRESH_US = 4_000;
export const MAX_RTT_THRESH_US = 16_000;
export const MIN_RTT_DIVISOR = 8;
export const N_RTT_SAMPLE = 8;
export const CSS_GROWTH_DIVISOR = 4;
export const CSS_ROUNDS = 5;
/** §4.3: L = 8 for a sender without pacing (ftcp does not pace). */
export const HYSTART_L = 8;

/** No RTT yet: RFC 9406's "infinity". */
const INF = -1;

/** RFC 9406 §4.2 variables, integers in µs and bytes. */
export interface HystartState {
  /** 'ss': standard slow start with HyStart++; 'css': Conservative Slow Start. */
  phase: 'ss' | 'css';
  lastRoundMinRttUs: number;
  currentRoundMinRttUs: number;
  rttSampleCount: number;
  /** Bytes still to be acknowledged before the round ends (windowEnd - SND.UNA); -1 before the first round. */
  toRoundEnd: number;
  cssBaselineMinRttUs: number;
  /** Rounds completed in CSS. */
  cssRounds: number;
  /** The RTT measured by the ACK being processed (sender.ts), folded in by onAck; -1: none. */
  latestRttUs: number;
  /** Bytes of CSS growth not yet applied (the remainder of the division by CSS_GROWTH_DIVISOR). */
  cssCredit: number;
}

export function newHystartState(): HystartState {
  return { phase: 'ss', lastRoundMinRttUs: INF, currentRoundMinRttUs: INF, rttSampleCount: 0, toRoundEnd: -1, cssBaselineMinRttUs: INF, cssRounds: 0, latestRttUs: -1, cssCredit: 0 };
}

/** A new connection's CcState with the stack's slow-start options. */
export function withSlowStartOptions(s: CcState, cfg: ResolvedConfig): CcState {
  if (cfg.profile === 'linux') s.perSegment = true;
  if (cfg.hystart) s.hystart = newHystartState();
  return s;
}

/** An RTT measurement taken from the ACK being processed (sender.ts, before congestion control sees the ACK). */
export function noteRttSample(s: CcState, rttUs: number): void {
  if (s.hystart !== undefined && rttUs >= 0) s.hystart.latestRttUs = rttUs;
}

/**
 * The slow-start increase for one ACK, before HyStart++'s CSS division. Per segment (profile
 * 'linux', Linux's tcp_slow_start), the segments this ACK delivered: those it acknowledges
 * that were not SACKed before (RFC 5681 §3.1 allows more than eq. 2's min(N, SMSS)).
 */
function increase(s: CcState, a: AckSample, limit: number): number {
  if (s.perSegment === true) return Math.min(Math.ceil((a.deliveredBytes ?? a.ackedBytes) / a.mss), limit) * a.mss;
  return Math.min(a.ackedBytes, limit * a.mss);
}

/** Slow start for one ACK of new data (cwnd < ssthresh), outside loss recovery. */
export function slowStartAck(s: CcState, a: AckSample): void {
  const h = s.hystart;
  // RFC 9406 §4.2: "An implementation SHOULD use HyStart++ only for the initial slow start
  // (when the ssthresh is at its initial value of arbitrarily high ...)".
  if (h !== undefined && s.ssthresh === SSTHRESH_INFINITE) {
    hystartAck(s, h, a);
    return;
  }
  if (s.perSegment !== true) {
    slowStart(s, a);
    return;
  }
  // Linux tcp_is_cwnd_limited in slow start: grow while cwnd < 2 * packets in flight.
  if (s.cwnd >= 2 * a.flightBefore) return;
  s.cwnd = Math.min(s.cwnd + increase(s, a, Number.MAX_SAFE_INTEGER), s.ssthresh, CWND_MAX);
}

function hystartAck(s: CcState, h: HystartState, a: AckSample): void {
  // §4.2: the first round ends when what is in flight now has been acknowledged.
  if (h.toRoundEnd < 0) h.toRoundEnd = a.flightBefore;
  // §4.2: keep track of the minimum RTT observed in the current round.
  if (h.latestRttUs >= 0) {
    h.currentRoundMinRttUs = h.currentRoundMinRttUs === INF ? h.latestRttUs : Math.min(h.currentRoundMinRttUs, h.latestRttUs);
    h.rttSampleCount++;
    h.latestRttUs = -1;
  }
  // §4.2: cwnd = cwnd + min(N, L * SMSS) in slow start, that divided by
  // CSS_GROWTH_DIVISOR in CSS.
  const inc = increase(s, a, HYSTART_L);
  if (h.phase === 'ss') {
    s.cwnd = Math.min(s.cwnd + inc, CWND_MAX);
  } else {
    h.cssCredit += inc;
    const step = Math.floor(h.cssCredit / CSS_GROWTH_DIVISOR);
    h.cssCredit -= step * CSS_GROWTH_DIVISOR;
    s.cwnd = Math.min(s.cwnd + step, CWND_MAX);
  }
  if (h.rttSampleCount >= N_RTT_SAMPLE && h.currentRoundMinRttUs !== INF) {
    if (h.phase === 'ss' && h.lastRoundMinRttUs !== INF) {
      // §4.2: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
      // MAX_RTT_THRESH)); a round whose minimum RTT grew by RttThresh ends slow start: CSS.
      const thresh = Math.max(MIN_RTT_THRESH_US, Math.min(Math.floor(h.lastRoundMinRttUs / MIN_RTT_DIVISOR), MAX_RTT_THRESH_US));
      if (h.currentRoundMinRttUs >= h.lastRoundMinRttUs + thresh) {
        h.cssBaselineMinRttUs = h.currentRoundMinRttUs;
        h.phase = 'css';
        h.cssRounds = 0;
        h.cssCredit = 0;
      }
    } else if (h.phase === 'css' && h.currentRoundMinRttUs < h.cssBaselineMinRttUs) {
      // §4.2: the RTT fell below the baseline, the exit was spurious: back to slow start
      // (with HyStart++).
      h.cssBaselineMinRttUs = INF;
      h.phase = 'ss';
    }
  }
  // §4.2: a round ends when the ACK covers windowEnd (SND.NXT when the round began); the
  // next one starts with lastRoundMinRTT = currentRoundMinRTT, currentRoundMinRTT =
  // infinity, rttSampleCount = 0.
  h.toRoundEnd -= a.ackedBytes;
  if (h.toRoundEnd > 0) return;
  h.lastRoundMinRttUs = h.currentRoundMinRttUs;
  h.currentRoundMinRttUs = INF;
  h.rttSampleCount = 0;
  h.toRoundEnd = Math.max(a.flightBefore - a.ackedBytes, 0);
  // §4.2: "If CSS_ROUNDS rounds are complete, enter congestion avoidance by setting the
  // ssthresh to the current cwnd."
  if (h.phase === 'css' && ++h.cssRounds >= CSS_ROUNDS) s.ssthresh = s.cwnd;
}
