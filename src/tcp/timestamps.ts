/**
 * RFC 7323 timestamps: the TS clock, RTTM (§4) and PAWS (§5).
 *
 * The TS clock ticks once per millisecond (DESIGN.md: "TS clock 1 ms per tick", as
 * Linux's TCP_TS_HZ = 1000) and is derived from `now` plus a per-connection offset
 * (isn.ts timestampOffset), so it needs no state of its own and a backup that continues
 * from the last logged time continues the clock too.
 */
import type { Tcb } from './tcb.js';
import { seqLe } from '../wire/seq.js';

/** RFC 7323 §5.5: TS.Recent is invalid after 24 days of idleness (2^31 ms at 1 ms per tick would be 24.8). */
export const PAWS_IDLE_US = 24 * 24 * 3600 * 1_000_000;

/** Our TSval at `nowUs`: milliseconds since the clock origin plus the connection's offset, mod 2^32. */
export function tsNow(tcb: Tcb, nowUs: number): number {
  return (Math.floor(nowUs / 1000) + tcb.tsOffset) >>> 0;
}

/** RFC 7323 §5.2: timestamps compare in 32-bit modular arithmetic: is a < b? */
export function tsLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/**
 * RFC 7323 §5.3 R1: PAWS. A non-RST segment whose SEG.TSval is older than TS.Recent is
 * not acceptable (the caller acknowledges and drops it), unless TS.Recent has gone stale
 * after 24 days of idleness (§5.5), in which case it is no longer trusted.
 */
export function pawsRejects(tcb: Tcb, tsVal: number, nowUs: number): boolean {
  if (!tsLt(tsVal, tcb.tsRecent)) return false;
  if (nowUs - tcb.tsRecentUs > PAWS_IDLE_US) {
    // §5.5: "the PAWS test would fail ... so TS.Recent is considered invalid": accept, and
    // the R3 update below takes the new value.
    tcb.tsRecent = tsVal;
    tcb.tsRecentUs = nowUs;
    return false;
  }
  return true;
}

/**
 * RFC 7323 §4.3 (2) / §5.3 R3: record SEG.TSval in TS.Recent when it is not older and the
 * segment starts at or before Last.ACK.sent (so that the timestamp echoed is the one of
 * the segment that advanced the left edge, even with delayed ACKs and holes).
 */
export function updateTsRecent(tcb: Tcb, segSeq: number, tsVal: number, nowUs: number): void {
  if (!tsLt(tsVal, tcb.tsRecent) && seqLe(segSeq, tcb.lastAckSent)) {
    tcb.tsRecent = tsVal;
    tcb.tsRecentUs = nowUs;
  }
}

/**
 * RFC 7323 §4.1 RTTM: the RTT an ACK measures, from the timestamp it echoes, in µs, or -1
 * when there is none to take: no echo (TSecr 0, as Linux ignores it), or an echo from the
 * future (a corrupt or forged value). A delta of 0 ticks counts as one tick (Linux).
 */
export function tsRttUs(tcb: Tcb, tsEcr: number, nowUs: number): number {
  if (tsEcr === 0) return -1;
  const deltaMs = (tsNow(tcb, nowUs) - tsEcr) | 0;
  if (deltaMs < 0) return -1;
  return Math.max(deltaMs, 1) * 1000;
}
