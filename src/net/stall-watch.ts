/**
 * The stall watch: does this process's own event loop run? A timer ticks every `periodMs`;
 * when a tick (or a check() made just before the replica judges its peer's silence, or
 * takes a frame) comes more than `periodMs + slackMs` after the last one, the loop did not
 * run for the excess: from last + periodMs to now. The replica is told
 * (Replica.handleStall), and its failure detector does not count that time against the
 * peer (src/replica/failure-detector.ts): a replica that was not scheduled, swapped out,
 * or busy restoring a snapshot, cannot have heard its peer, whatever the peer did.
 *
 * What it cannot see: a stall shorter than periodMs + slackMs (at most that much of our own
 * lag is taken for the peer's silence), and a stall of the peer (the adaptive timeout's
 * job). It reads the same clock as the replica (integer µs), and its timer is unref'd.
 */
export interface StallStats {
  /** Stalls seen. */
  stalls: number;
  /** Their total length, ms. */
  stalledMs: number;
  /** The longest, ms. */
  longestMs: number;
}

export class StallWatch {
  readonly stats: StallStats = { stalls: 0, stalledMs: 0, longestMs: 0 };
  private lastUs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly periodUs: number;
  private readonly slackUs: number;

  constructor(
    private readonly now: () => number,
    private readonly onStall: (fromUs: number, toUs: number) => void,
    opts: { periodMs?: number; slackMs?: number } = {},
  ) {
    this.periodUs = Math.round((opts.periodMs ?? 5) * 1000);
    this.slackUs = Math.round((opts.slackMs ?? 5) * 1000);
    this.lastUs = now();
  }

  start(): this {
    if (this.timer === undefined) {
      this.lastUs = this.now();
      this.timer = setInterval(() => this.check(), this.periodUs / 1000);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The loop runs now: report the stall since the last run, if there was one. */
  check(nowUs = this.now()): void {
    const from = this.lastUs + this.periodUs;
    if (nowUs - this.lastUs > this.periodUs + this.slackUs) {
      const ms = (nowUs - from) / 1000;
      this.stats.stalls++;
      this.stats.stalledMs += ms;
      if (ms > this.stats.longestMs) this.stats.longestMs = ms;
      this.onStall(from, nowUs);
    }
    if (nowUs > this.lastUs) this.lastUs = nowUs;
  }
}
