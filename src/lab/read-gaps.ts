/**
 * The gaps in a client's reads, timestamped by the client itself (`ftcp client --read-gaps MS`):
 * every interval of at least MS between two consecutive reads of stream bytes (any
 * connection), as wall-clock [from, to] pairs. This is what a client sees of a pause: the
 * time it went without a byte, whatever the cause (the service, the network, or its own
 * process waiting for a CPU).
 *
 * pauseAcross() reads a planned switchover out of them, given the wall-clock times other
 * processes printed (SIGTERM of the primary, the backup's `live`): every process on the
 * machine stamps its lines with the same wall clock (src/net/clock.ts), so no signal to the
 * client, and no delay in handling one, sits inside the figure.
 */

import type { ChildEvent } from './children.js';

/** What `ftcp client --read-gaps MS` puts in its result line. */
export interface ReadGapsReport {
  /** The shortest gap recorded, ms. */
  thresholdMs: number;
  /** Reads seen (each a non-empty read of stream bytes). */
  reads: number;
  /** Wall-clock ms of the first and the last read; null before the first. */
  firstMs: number | null;
  lastMs: number | null;
  /** Every gap of at least thresholdMs, in order: [the read before it, the read that ended it], wall-clock ms. */
  gaps: Array<[number, number]>;
  /** Gaps not kept once `gaps` held its cap. */
  dropped: number;
}

/** The shortest gap between two reads the benches have the client record (ms): the resolution of `resumed`. */
export const READ_GAP_MS = 0.5;

/** How many gaps a client keeps (the rest are counted in `dropped`). */
export const READ_GAPS_CAP = 100_000;

export class ReadGaps {
  private readonly gaps: Array<[number, number]> = [];
  private reads = 0;
  private firstMs: number | null = null;
  private lastMs: number | null = null;
  private dropped = 0;

  constructor(
    readonly thresholdMs: number,
    private readonly cap = READ_GAPS_CAP,
  ) {}

  /** A read at wall-clock `atMs`. */
  read(atMs: number): void {
    this.reads++;
    if (this.lastMs !== null && atMs - this.lastMs >= this.thresholdMs) {
      if (this.gaps.length < this.cap) this.gaps.push([this.lastMs, atMs]);
      else this.dropped++;
    }
    this.firstMs ??= atMs;
    this.lastMs = atMs;
  }

  report(): ReadGapsReport {
    return { thresholdMs: this.thresholdMs, reads: this.reads, firstMs: this.firstMs, lastMs: this.lastMs, gaps: this.gaps.map(([a, b]) => [a, b]), dropped: this.dropped };
  }
}

/** The client's read gaps of its result line, or a reason there are none. */
export function readGapsOf(result: ChildEvent): ReadGapsReport | string {
  // The line was checked against its schema (src/net/events.ts) when it was read.
  const r = result.event === 'result' ? (result as { readGaps?: ReadGapsReport }).readGaps : undefined;
  return r ?? 'the client\'s result line has no readGaps (was it started with --read-gaps?)';
}

/** The client's view of one switchover. */
export interface PauseAcross {
  /**
   * The longest gap in the client's reads that overlaps [SIGTERM, the first read at or after
   * live], ms: how long the client went without a byte across the handover. When no recorded
   * gap overlaps, the reads were never thresholdMs apart there, and this is thresholdMs (an
   * upper bound). Null when the client read nothing at or after live.
   */
  pauseMs: number | null;
  /** Wall-clock ms of the client's first read at or after live (within thresholdMs of it); null if none. */
  resumedAtMs: number | null;
  /** The gap counted as pauseMs, wall-clock [from, to]; null when none was recorded. */
  gap: [number, number] | null;
  /**
   * The longest gap that ended in the same length of time just before SIGTERM: the client's
   * own stalls with no switchover under way, to compare. Null when the client was not yet
   * reading for all of that time (its first read came later than its start).
   */
  beforeMs: number | null;
}

/** The client's pause across a switchover begun at `termMs` whose backup went live at `liveMs` (wall-clock ms). */
export function pauseAcross(r: ReadGapsReport, termMs: number, liveMs: number): PauseAcross {
  const none: PauseAcross = { pauseMs: null, resumedAtMs: null, gap: null, beforeMs: null };
  if (r.firstMs === null || r.lastMs === null || r.lastMs < liveMs) return none;
  // The first read at or after live: the end of the gap live falls in, the first read if live
  // came before it, else a read less than thresholdMs after live (no gap that long holds it).
  const holding = r.gaps.find(([from, to]) => from < liveMs && liveMs <= to);
  const resumedAtMs = r.firstMs >= liveMs ? r.firstMs : holding !== undefined ? holding[1] : Math.min(liveMs + r.thresholdMs, r.lastMs);
  let gap: [number, number] | null = null;
  for (const g of r.gaps) if (g[1] > termMs && g[0] < resumedAtMs && (gap === null || g[1] - g[0] > gap[1] - gap[0])) gap = g;
  // Reads that started after SIGTERM: the wait for the first byte counts from SIGTERM.
  const sinceTerm = r.firstMs > termMs ? r.firstMs - termMs : 0;
  const pauseMs = Math.max(gap !== null ? gap[1] - gap[0] : r.thresholdMs, sinceTerm);
  const windowMs = resumedAtMs - termMs;
  let beforeMs: number | null = null;
  const start = termMs - windowMs;
  if (r.firstMs <= start) {
    beforeMs = r.thresholdMs;
    for (const [from, to] of r.gaps) if (to <= termMs && to > start) beforeMs = Math.max(beforeMs, to - Math.max(from, start));
  }
  return { pauseMs, resumedAtMs, gap, beforeMs };
}
