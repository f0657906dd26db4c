/**
 * The simulation core: a virtual clock, a deterministic event queue and the run loop.
 *
 * Everything that happens in a run (a packet arriving, a stack timer firing, a link going
 * down) is a task in one queue, ordered by (virtual time, insertion sequence). The run
 * loop pops the earliest task, advances the clock to its time and runs it. Nothing reads
 * the wall clock, so the same seed replays the same run event for event.
 */
import { VirtualClock, assertTimeUs, formatUs } from './clock.js';
import { EventQueue } from './events.js';

/** What a queued task is, for stall reports: a kind ('deliver', 'timer', 'link') and a target. */
export interface SimTask {
  readonly kind: string;
  readonly target: string;
  run(): void;
}

export interface RunOptions {
  /** Stop once this returns true (checked before the first event and after each). */
  until?: () => boolean;
  /** Stop before running any event later than this virtual time (the clock is left there). */
  untilUs?: number;
  /** Liveness bound: stop with reason 'max-events' after this many events. Default 10_000_000. */
  maxEvents?: number;
  /** Called every `progressEvery` events (default 4096), e.g. for a progress line. */
  onProgress?: () => void;
  progressEvery?: number;
}

export type RunStopReason =
  /** `until` returned true. */
  | 'done'
  /** The next event is after `untilUs` (or none is left and `untilUs` was given with no `until`). */
  | 'time-limit'
  /** Nothing is scheduled any more, but `until` is not satisfied: nobody will ever act again. */
  | 'idle'
  /** The liveness bound was hit: the run keeps producing events without reaching `until`. */
  | 'max-events';

export interface RunOutcome {
  reason: RunStopReason;
  /** Events run by this call. */
  events: number;
  nowUs: number;
  /** For 'idle' and 'max-events' when `until` was given: a one-paragraph explanation. */
  stall?: string;
}

export class Simulator {
  readonly clock = new VirtualClock();
  private readonly queue = new EventQueue<SimTask>();
  /** Events run over the simulator's life. */
  eventsRun = 0;
  /**
   * Runs each task (it must call `run` exactly once): a lab measuring the CPU of some tasks
   * wraps them here. The simulation never sees what it measures.
   */
  meter: ((task: SimTask, run: () => void) => void) | undefined;

  get nowUs(): number {
    return this.clock.nowUs;
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Schedule `task` at absolute virtual time `timeUs` (not before now). */
  schedule(timeUs: number, task: SimTask): void {
    assertTimeUs(timeUs);
    if (timeUs < this.clock.nowUs) {
      throw new Error(`Simulator.schedule: ${task.kind} for ${task.target} at ${timeUs} µs is in the past (now ${this.clock.nowUs} µs)`);
    }
    this.queue.schedule(timeUs, task);
  }

  /** Run one event. Returns false when the queue is empty. */
  step(): boolean {
    const event = this.queue.pop();
    if (event === undefined) return false;
    this.clock.advanceTo(event.timeUs);
    this.eventsRun++;
    if (this.meter === undefined) event.item.run();
    else this.meter(event.item, () => event.item.run());
    return true;
  }

  run(options: RunOptions): RunOutcome {
    const { until, untilUs, onProgress } = options;
    const maxEvents = options.maxEvents ?? 10_000_000;
    const progressEvery = options.progressEvery ?? 4096;
    if (untilUs !== undefined) assertTimeUs(untilUs);
    let events = 0;
    for (;;) {
      if (until?.() === true) return { reason: 'done', events, nowUs: this.nowUs };
      const nextUs = this.queue.peekTimeUs();
      if (untilUs !== undefined && (nextUs === undefined ? until === undefined : nextUs > untilUs)) {
        if (untilUs > this.nowUs) this.clock.advanceTo(untilUs);
        return { reason: 'time-limit', events, nowUs: this.nowUs };
      }
      if (nextUs === undefined) {
        const outcome: RunOutcome = { reason: 'idle', events, nowUs: this.nowUs };
        if (until !== undefined) {
          outcome.stall =
            `stalled at ${formatUs(this.nowUs)} virtual after ${events} events: nothing is scheduled ` +
            `(no packet in flight, no timer armed) but the run's goal is not reached`;
        }
        return outcome;
      }
      if (events >= maxEvents) {
        const outcome: RunOutcome = { reason: 'max-events', events, nowUs: this.nowUs };
        if (until !== undefined) {
          outcome.stall =
            `no convergence after ${events} events (the liveness bound) at ${formatUs(this.nowUs)} virtual; ` +
            `${this.queue.size} events pending, next: ${this.describeNext()}`;
        }
        return outcome;
      }
      this.step();
      events++;
      if (onProgress !== undefined && events % progressEvery === 0) onProgress();
    }
  }

  private describeNext(): string {
    const event = this.queue.peek();
    if (event === undefined) return 'none';
    return `${event.item.kind} for ${event.item.target} at ${formatUs(event.timeUs)}`;
  }
}
