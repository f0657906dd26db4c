/**
 * A replica process's one timer: a setTimeout at the deadline its Replica's pollTimeout()
 * gives (process clock, µs), moved or cancelled when the deadline changes. When it fires,
 * the callback runs from setImmediate, after Node's poll phase: frames from the peer that
 * waited in the socket during a busy turn are handled first, so a busy process does not
 * take its own lag for the peer's silence.
 */
export interface DeadlineHooks {
  /** The process clock now, in µs (the clock is restarted when the Replica is made). */
  nowUs(): number;
  /** The process is closing: nothing is armed. */
  closed(): boolean;
  /** Whether a due deadline may still be handled (checked when it fires). */
  canFire(): boolean;
  /** Handle the deadline. */
  fire(): void;
}

export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  private armedUs: number | undefined;
  private generation = 0;

  constructor(private readonly hooks: DeadlineHooks) {}

  /** Fire at `deadlineUs` (process clock), or never when undefined; the same deadline again changes nothing. */
  arm(deadlineUs: number | undefined): void {
    if (deadlineUs === this.armedUs) return;
    // A generation number retires a timer (or its deferred callback) whose deadline changed.
    const generation = ++this.generation;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedUs = deadlineUs;
    if (deadlineUs === undefined || this.hooks.closed()) return;
    this.timer = setTimeout(() => {
      setImmediate(() => {
        if (generation !== this.generation || !this.hooks.canFire()) return;
        this.timer = undefined;
        this.armedUs = undefined;
        this.hooks.fire();
      });
    }, Math.max(0, (deadlineUs - this.hooks.nowUs()) / 1000));
  }

  /** The process closes: the pending timeout goes. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
