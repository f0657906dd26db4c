/**
 * Timers are data, not callbacks. Each connection holds one absolute deadline (µs) per
 * timer kind, -1 when the timer is off. The stack keeps a binary min-heap of
 * (deadline, connection id) entries with lazy deletion, so pollTimeout() is O(1) amortised
 * and re-arming a timer is O(log n), whatever the number of connections.
 *
 * Firing order is part of the output and must not depend on the heap's shape: the heap
 * orders by (deadline, id), both plain data, so a stack rebuilt from a snapshot fires in
 * the same order.
 */

/** Index of each timer in a connection's `timers` array. */
export const Timer = {
  /** RFC 6298 retransmission timer; also the SYN / SYN-ACK retry timer. */
  Retransmit: 0,
  /** RFC 9293 §3.8.6.1 / RFC 1122 4.2.2.17 zero-window probe (persist) timer. */
  Persist: 1,
  /** RFC 1122 4.2.3.2 delayed-ACK timer. */
  DelayedAck: 2,
  /** RFC 1122 4.2.3.6 keep-alive timer. */
  KeepAlive: 3,
  /** TIME-WAIT 2*MSL (RFC 9293 §3.3.2); also the orphaned FIN-WAIT-2 timeout. */
  Close: 4,
  /** RFC 8985 §6.2 step 5: the RACK reordering timer. */
  RackReorder: 5,
  /** RFC 8985 §7.2: the tail loss probe timer (PTO). */
  Tlp: 6,
} as const;
export type TimerKind = (typeof Timer)[keyof typeof Timer];

export const TIMER_COUNT = 7;
export const TIMER_OFF = -1;

export function newTimers(): number[] {
  return [TIMER_OFF, TIMER_OFF, TIMER_OFF, TIMER_OFF, TIMER_OFF, TIMER_OFF, TIMER_OFF];
}

/** The earliest armed deadline, or -1. */
export function earliest(timers: readonly number[]): number {
  let min = TIMER_OFF;
  for (let i = 0; i < TIMER_COUNT; i++) {
    const t = timers[i]!;
    if (t >= 0 && (min < 0 || t < min)) min = t;
  }
  return min;
}

export function stopAll(timers: number[]): void {
  for (let i = 0; i < TIMER_COUNT; i++) timers[i] = TIMER_OFF;
}

/** Min-heap of [deadline, id] pairs, ordered by deadline then id. */
export class DeadlineHeap {
  private d: number[] = [];
  private ids: number[] = [];

  get size(): number {
    return this.d.length;
  }

  clear(): void {
    this.d = [];
    this.ids = [];
  }

  push(deadline: number, id: number): void {
    this.d.push(deadline);
    this.ids.push(id);
    let i = this.d.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  peekDeadline(): number | undefined {
    return this.d[0];
  }

  peekId(): number | undefined {
    return this.ids[0];
  }

  pop(): void {
    const last = this.d.length - 1;
    if (last < 0) return;
    this.swap(0, last);
    this.d.pop();
    this.ids.pop();
    let i = 0;
    const n = this.d.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  private less(a: number, b: number): boolean {
    const da = this.d[a]!;
    const db = this.d[b]!;
    return da < db || (da === db && this.ids[a]! < this.ids[b]!);
  }

  private swap(a: number, b: number): void {
    const d = this.d[a]!;
    this.d[a] = this.d[b]!;
    this.d[b] = d;
    const id = this.ids[a]!;
    this.ids[a] = this.ids[b]!;
    this.ids[b] = id;
  }
}

/**
 * Each connection's earliest deadline, kept in a DeadlineHeap with lazy deletion: a
 * changed deadline pushes a new entry and the old one is skipped when it surfaces.
 */
export class TimerSchedule {
  private readonly heap = new DeadlineHeap();
  private readonly deadlines = new Map<number, number>();

  /** Connection `id`'s earliest deadline is now `e` (-1: none). O(log n) per change. */
  set(id: number, e: number): void {
    if (e < 0) {
      this.deadlines.delete(id);
      return;
    }
    if (this.deadlines.get(id) === e) return;
    this.deadlines.set(id, e);
    this.heap.push(e, id);
    if (this.heap.size > 4 * this.deadlines.size + 1024) this.rebuild();
  }

  delete(id: number): void {
    this.deadlines.delete(id);
  }

  /** The next connection due at `now`, in (deadline, id) order, taken off the schedule; stale entries and ids `live` rejects are skipped. */
  popDue(now: number, live: (id: number) => boolean): number | undefined {
    for (;;) {
      const d = this.heap.peekDeadline();
      if (d === undefined || d > now) return undefined;
      const id = this.heap.peekId()!;
      this.heap.pop();
      if (!live(id) || this.deadlines.get(id) !== d) continue; // stale entry
      this.deadlines.delete(id);
      return id;
    }
  }

  /** The earliest deadline of a connection `live` accepts, or undefined (stale entries are dropped on the way). */
  next(live: (id: number) => boolean): number | undefined {
    for (;;) {
      const d = this.heap.peekDeadline();
      if (d === undefined) return undefined;
      const id = this.heap.peekId()!;
      if (live(id) && this.deadlines.get(id) === d) return d;
      this.heap.pop();
    }
  }

  private rebuild(): void {
    this.heap.clear();
    for (const [id, d] of this.deadlines) this.heap.push(d, id);
  }
}
