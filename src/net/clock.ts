/**
 * The real clocks of a process (only src/net, src/lab and src/cli read clocks; DESIGN.md, "The
 * determinism contract").
 *
 * - ProcessClock: monotonic integer microseconds since the clock was made (from
 *   process.hrtime.bigint()); this is the `now` the state machines of a process get.
 * - wallClockUs(): microseconds since the Unix epoch, for capture timestamps and for
 *   event times that another process compares (the demo lines up the kill, the go-live and
 *   the client's first new byte with it).
 */
export class ProcessClock {
  private readonly originNs: bigint;
  constructor() {
    this.originNs = process.hrtime.bigint();
  }
  /** Integer µs since construction; never goes backwards. */
  nowUs(): number {
    return Number((process.hrtime.bigint() - this.originNs) / 1000n);
  }
}

export function wallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Wall-clock milliseconds with µs precision (for JSON event lines). */
export function wallClockMs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}
