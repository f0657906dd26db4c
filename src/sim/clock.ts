/**
 * The simulator's virtual clock: integer microseconds since the start of a run.
 *
 * Nothing in the simulator reads the wall clock; time moves only when the run loop
 * advances it to the next scheduled event, so a run is a pure function of its seed.
 */
export class VirtualClock {
  private nowUs_ = 0;

  /** Current virtual time in integer microseconds. */
  get nowUs(): number {
    return this.nowUs_;
  }

  /** Move time forward to `timeUs`. Time never goes backwards. */
  advanceTo(timeUs: number): void {
    assertTimeUs(timeUs);
    if (timeUs < this.nowUs_) {
      throw new Error(`VirtualClock: time went backwards: ${timeUs} < ${this.nowUs_}`);
    }
    this.nowUs_ = timeUs;
  }
}

/** Times are non-negative safe integers (µs); a fraction would make runs depend on float rounding. */
export function assertTimeUs(timeUs: number): void {
  if (!Number.isSafeInteger(timeUs) || timeUs < 0) {
    throw new RangeError(`time must be a non-negative integer number of microseconds, got ${timeUs}`);
  }
}

/** Convert milliseconds (possibly fractional, e.g. a CLI flag) to integer µs. */
export function msToUs(ms: number): number {
  return Math.round(ms * 1000);
}

/** Format virtual µs as seconds with millisecond precision, e.g. "1.234 s". */
export function formatUs(timeUs: number): string {
  return `${(timeUs / 1_000_000).toFixed(3)} s`;
}
