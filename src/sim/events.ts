/**
 * A deterministic discrete-event queue: a binary min-heap ordered by (time, sequence).
 *
 * The sequence number is assigned at insertion, so two events scheduled for the same
 * microsecond come out in the order they were scheduled. Nothing depends on object
 * identity or on the engine's sort stability: the same schedule calls give the same
 * pop order on every run.
 */
import { assertTimeUs } from './clock.js';

export interface ScheduledEvent<T> {
  readonly timeUs: number;
  /** Insertion order, unique per queue; the tie-breaker for equal times. */
  readonly seq: number;
  readonly item: T;
}

export class EventQueue<T> {
  private readonly heap: ScheduledEvent<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Add `item` to fire at `timeUs`. Returns its sequence number. */
  schedule(timeUs: number, item: T): number {
    assertTimeUs(timeUs);
    const event: ScheduledEvent<T> = { timeUs, seq: this.nextSeq++, item };
    this.heap.push(event);
    this.siftUp(this.heap.length - 1);
    return event.seq;
  }

  /** Time of the earliest event, or undefined when the queue is empty. */
  peekTimeUs(): number | undefined {
    return this.heap[0]?.timeUs;
  }

  /** The earliest event without removing it. */
  peek(): ScheduledEvent<T> | undefined {
    return this.heap[0];
  }

  /** Remove and return the earliest event (lowest time, then lowest sequence). */
  pop(): ScheduledEvent<T> | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const event = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = event;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const event = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, event)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = event;
  }
}

function before<T>(a: ScheduledEvent<T>, b: ScheduledEvent<T>): boolean {
  return a.timeUs < b.timeUs || (a.timeUs === b.timeUs && a.seq < b.seq);
}
