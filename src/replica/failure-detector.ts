/**
 * The failure detector: when may a replica call its silent peer suspected? (docs/design.md
 * "Failure detection".) It tells "dead" from "slow" with two pieces of evidence:
 *
 * - **How long a live peer has gone silent before.** Every frame heard from the peer ends
 *   a gap; the detector keeps the recent gaps and sets the timeout to
 *   max(mean + k·σ of the window, `peakFactor` × the largest gap seen, decaying), clamped to
 *   [D, Dmax]. A quiet machine keeps D; a machine that once left the peer unscheduled for
 *   120 ms waits up to 2 × 120 ms next time. (An accrual detector in the spirit of phi
 *   accrual, Hayashibara et al. 2004, with the distribution replaced by mean, spread and
 *   the worst gap, which is what a scheduler's stalls look like.)
 * - **Its own stalls.** The driver reports when this replica's own event loop did not
 *   run (noteStall). Silence that fell while we ourselves were stalled says nothing about
 *   the peer: it is subtracted from the silence (capped at Dmax per silence).
 *
 * Until `warmupSamples` gaps are known the timeout is Dmax: no history, no confidence.
 *
 * **Start-up** (`startupUs`, S > D). A pair's first second is when both processes are
 * least able to keep time: they and their neighbours load, compile and allocate, and the
 * backup cannot answer before its replica exists. So from the detector's start (and from a
 * new peer's, reset(newPeer)) the timeout is at least S less the time the peer has been
 * heard steadily (no gap over `steadyGapUs` up to its last frame; a stall of our own shows
 * as such a gap too, and a longer gap gives back the whole of S). Start-up is over once
 * that is down to D (the peer steady for S - D), or `startupMaxUs` after it began. On a
 * quiet machine a peer killed t after its first frame is suspected after max(D, S - t).
 *
 * Worst case for a dead peer: Dmax after its last frame, plus at most Dmax more of our
 * own stalls (and whatever excuseStall excused, our own known long work); during start-up
 * S instead of Dmax, and at least the caller's floor (suspects, deadline). With Dmax = D the detector is the fixed
 * timeout D (S during start-up) and gives no credit for own stalls.
 *
 * Pure and deterministic: integer µs of the replica's clock come in; no clock is read.
 */

export interface DetectorOptions {
  /** D: the shortest timeout, µs. */
  minUs: number;
  /** Dmax: the longest timeout, µs (= minUs: a fixed timeout). */
  maxUs: number;
  /** Gaps kept for mean and σ. Default 128. */
  window?: number;
  /** k in mean + k·σ. Default 4. */
  k?: number;
  /** The largest recent gap times this. Default 2. */
  peakFactor?: number;
  /** The largest gap's weight halves every this many µs. Default 30 s. */
  peakHalfLifeUs?: number;
  /** Gaps needed before the timeout leaves Dmax. Default 8. */
  warmupSamples?: number;
  /** S: the least timeout during start-up, µs. Default minUs: no start-up bound. */
  startupUs?: number;
  /** A gap up to this long is steady. Default 2 × 10 ms. */
  steadyGapUs?: number;
  /** Start-up ends this long after it began, steady or not. Default 10 × startupUs. */
  startupMaxUs?: number;
}

export class FailureDetector {
  private readonly gaps: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSq = 0;
  private peak = { gapUs: 0, atUs: 0 };
  private lastHeardUs: number;
  /** Own stall time since the last frame heard, µs. */
  private creditUs = 0;
  private readonly o: Required<DetectorOptions>;
  /** In start-up: when it ends at the latest, and since when the peer has been heard steadily. */
  private startup: { untilUs: number; steadySinceUs: number | undefined } | undefined;

  constructor(nowUs: number, opts: DetectorOptions) {
    if (!(opts.minUs > 0) || opts.maxUs < opts.minUs) throw new RangeError(`failure detector: need 0 < D <= Dmax, got D ${opts.minUs} µs, Dmax ${opts.maxUs} µs`);
    const startupUs = opts.startupUs ?? opts.minUs;
    if (!(startupUs >= opts.minUs)) throw new RangeError(`failure detector: need the start-up bound S >= D, got S ${startupUs} µs, D ${opts.minUs} µs`);
    this.o = { window: 128, k: 4, peakFactor: 2, peakHalfLifeUs: 30_000_000, warmupSamples: 8, steadyGapUs: 20_000, startupMaxUs: 10 * startupUs, ...opts, startupUs };
    this.lastHeardUs = nowUs;
    this.startStartup(nowUs);
  }

  /** Fixed timeout: Dmax = D. */
  get adaptive(): boolean {
    return this.o.maxUs > this.o.minUs;
  }

  get lastHeard(): number {
    return this.lastHeardUs;
  }

  get samples(): number {
    return this.gaps.length;
  }

  /** Silence is still judged against the start-up bound S at nowUs. */
  inStartup(nowUs: number): boolean {
    return this.startup !== undefined && nowUs < this.startup.untilUs;
  }

  /** A frame from the peer arrived at nowUs. */
  heard(nowUs: number): void {
    if (this.startup !== undefined) this.steadyYet(nowUs);
    if (this.adaptive && nowUs > this.lastHeardUs) this.record(Math.max(0, nowUs - this.lastHeardUs - this.creditUs), nowUs);
    if (nowUs > this.lastHeardUs) this.lastHeardUs = nowUs;
    this.creditUs = 0;
  }

  /**
   * Restart the silence at nowUs without a sample (a new epoch). With `newPeer`, forget the
   * gaps too: a new peer (a joiner, which goes quiet while it restores its snapshot) gets
   * the warm-up at Dmax, not the timeout learned from the one before it.
   */
  reset(nowUs: number, newPeer = false): void {
    this.lastHeardUs = nowUs;
    this.creditUs = 0;
    if (!newPeer) return;
    this.startStartup(nowUs);
    this.gaps.length = 0;
    this.next = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.peak = { gapUs: 0, atUs: 0 };
  }

  /** This replica's own event loop did not run from fromUs to toUs (credit capped at Dmax, never lowered: see excuseStall). */
  noteStall(fromUs: number, toUs: number): void {
    if (!this.adaptive) return;
    const from = Math.max(fromUs, this.lastHeardUs);
    if (toUs > from) this.creditUs = Math.max(this.creditUs, Math.min(this.o.maxUs, this.creditUs + (toUs - from)));
  }

  /**
   * This replica's own event loop did not run from fromUs to toUs, at a time when its own
   * work is known to be long (taking a join snapshot): the stall is not counted against the
   * peer even with a fixed timeout, and not capped at Dmax. It is a measured stall of this
   * process, so a dead peer is still suspected D after the work ends.
   */
  excuseStall(fromUs: number, toUs: number): void {
    const from = Math.max(fromUs, this.lastHeardUs);
    if (toUs > from) this.creditUs += toUs - from;
  }

  /** The current timeout, µs: in start-up at least S less the peer's steady time. */
  timeoutUs(nowUs: number): number {
    const t = this.learnedTimeoutUs(nowUs);
    return this.inStartup(nowUs) ? Math.max(this.startupAllowanceUs(), t) : t;
  }

  /** S less how long the peer had been heard steadily at its last frame. */
  private startupAllowanceUs(): number {
    const since = this.startup?.steadySinceUs;
    return this.o.startupUs - (since === undefined ? 0 : this.lastHeardUs - since);
  }

  /** The timeout outside start-up, µs. */
  private learnedTimeoutUs(nowUs: number): number {
    const { minUs, maxUs } = this.o;
    if (!this.adaptive) return minUs;
    const n = this.gaps.length;
    if (n < this.o.warmupSamples) return maxUs;
    const mean = this.sum / n;
    const sigma = Math.sqrt(Math.max(0, this.sumSq / n - mean * mean));
    const age = Math.max(0, nowUs - this.peak.atUs);
    const peak = this.peak.gapUs * Math.pow(2, -age / this.o.peakHalfLifeUs);
    const want = Math.max(mean + this.o.k * sigma, this.o.peakFactor * peak);
    return Math.round(Math.min(maxUs, Math.max(minUs, want)));
  }

  /** Silence that counts against the peer: since its last frame, less our own stalls. */
  silenceUs(nowUs: number): number {
    return nowUs - this.lastHeardUs - this.creditUs;
  }

  /** `floorUs`: a silence the caller expects (a joiner restoring its snapshot) is judged against at least this. */
  suspects(nowUs: number, floorUs = 0): boolean {
    return this.silenceUs(nowUs) >= Math.max(floorUs, this.timeoutUs(nowUs));
  }

  /**
   * When to look again (the replica's clock, integer µs). The timeout only shrinks as the
   * largest gap decays, so at this time suspects() holds unless a frame or a stall came
   * first: it may be late by the decay since the last frame, never early.
   */
  deadline(floorUs = 0): number {
    const from = this.lastHeardUs + this.creditUs;
    const after = from + Math.max(floorUs, this.learnedTimeoutUs(this.lastHeardUs));
    const s = this.startup;
    if (s === undefined || this.lastHeardUs >= s.untilUs) return after;
    // Before untilUs the start-up allowance counts as well, from untilUs on only the rest: whichever is met first.
    return Math.min(Math.max(from + this.startupAllowanceUs(), after), Math.max(s.untilUs, after));
  }

  private startStartup(nowUs: number): void {
    this.startup = this.o.startupUs > this.o.minUs ? { untilUs: nowUs + this.o.startupMaxUs, steadySinceUs: undefined } : undefined;
  }

  /** Before lastHeardUs moves: does this frame end start-up? The first frame starts the steady stretch. */
  private steadyYet(nowUs: number): void {
    const s = this.startup!;
    if (nowUs >= s.untilUs) {
      this.startup = undefined;
    } else if (s.steadySinceUs === undefined || nowUs - this.lastHeardUs > this.o.steadyGapUs) {
      s.steadySinceUs = nowUs;
    } else if (nowUs - s.steadySinceUs >= this.o.startupUs - this.o.minUs) {
      this.startup = undefined;
    }
  }

  private record(gapUs: number, nowUs: number): void {
    const w = this.o.window;
    if (this.gaps.length < w) {
      this.gaps.push(gapUs);
    } else {
      const old = this.gaps[this.next]!;
      this.sum -= old;
      this.sumSq -= old * old;
      this.gaps[this.next] = gapUs;
      this.next = (this.next + 1) % w;
    }
    this.sum += gapUs;
    this.sumSq += gapUs * gapUs;
    const age = Math.max(0, nowUs - this.peak.atUs);
    if (gapUs >= this.peak.gapUs * Math.pow(2, -age / this.o.peakHalfLifeUs)) this.peak = { gapUs, atUs: nowUs };
  }
}
