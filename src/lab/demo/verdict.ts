/**
 * What ended a live demo run that did not fail over cleanly, read from the real sequence of
 * events (each stamped by the process that saw it, `atMs`, on the machine's one wall clock),
 * not from the order in which their lines reached the demo:
 *
 *   false failover  a replica won, lost, went live, was fenced or stopped before the demo's
 *                   own fault began: the pair had split before the kill. With the in-flight
 *                   kill moment (in-flight.ts) that fault begins when the hold ends (the
 *                   hold is the demo's doing, but no failover may come of it: it is shorter
 *                   than D/3); an event of the hold reaches the demo after the kill when the
 *                   machine is slow, and the kill then finds a primary that serves alone,
 *                   no backup to go live and streams that break, for a reason that is not
 *                   the failover's.
 *   load finished   the client's last stream ended before the kill: nothing was left to
 *                   fail over, and no replica needed to go live.
 *
 * An event stamped after the demo began stopping the pair is neither: the replica that exits
 * first closes the log channel, and the other suspects it at once (and may win, go live).
 */

/** A replica's events that mean a failover happened; before the demo's own fault, a false one. */
export const FALSE_FAILOVER_EVENTS: readonly string[] = ['won', 'lost', 'live', 'fenced', 'stopped'];

/** One replica event as the demo saw it. */
export interface SeenEvent {
  replica: string;
  event: string;
  atMs: number;
  epoch?: number;
}

/** The demo's own marks, wall clock ms. */
export interface DemoMarks {
  /** When the demo's hold of the backup's acknowledgements began and ended (in-flight kill moment). */
  holdFromMs?: number;
  holdToMs?: number;
  /** When the demo's own fault began (the end of the hold; the cut in unsafe mode; the kill). Undefined: not yet. */
  ownFaultAtMs?: number;
  /** The kill -9; undefined: none. */
  killAtMs?: number;
  /** When the client's last stream ended; undefined: not (yet) known. */
  loadDoneAtMs?: number;
  /** When the demo began stopping the pair (the survivor, or everything); undefined: not yet. */
  stopAtMs?: number;
}

export type DemoVerdict =
  | { kind: 'false-failover'; replica: string; event: string; epoch: number | undefined; atMs: number; duringHold: boolean; afterKillSeen: boolean }
  | { kind: 'load-finished-before-kill'; loadDoneAtMs: number; killAtMs: number }
  | { kind: 'none' };

/** The first event of `events` (in the order seen) that is a failover before the demo's own fault. */
export function firstFalseFailover(events: readonly SeenEvent[], marks: DemoMarks): DemoVerdict | undefined {
  for (const e of events) {
    if (!FALSE_FAILOVER_EVENTS.includes(e.event)) continue;
    if (marks.ownFaultAtMs !== undefined && e.atMs >= marks.ownFaultAtMs) continue;
    if (marks.stopAtMs !== undefined && e.atMs >= marks.stopAtMs) continue; // the stop's doing
    const duringHold = marks.holdFromMs !== undefined && e.atMs >= marks.holdFromMs && (marks.holdToMs === undefined || e.atMs <= marks.holdToMs);
    return { kind: 'false-failover', replica: e.replica, event: e.event, epoch: e.epoch, atMs: e.atMs, duringHold, afterKillSeen: marks.killAtMs !== undefined };
  }
  return undefined;
}

/** The verdict on a run's events and marks. */
export function demoVerdict(events: readonly SeenEvent[], marks: DemoMarks): DemoVerdict {
  const ff = firstFalseFailover(events, marks);
  if (ff !== undefined) return ff;
  if (marks.killAtMs !== undefined && marks.loadDoneAtMs !== undefined && marks.loadDoneAtMs <= marks.killAtMs) return { kind: 'load-finished-before-kill', loadDoneAtMs: marks.loadDoneAtMs, killAtMs: marks.killAtMs };
  return { kind: 'none' };
}

/** The one line that says what a false failover was, and what to change. */
export function falseFailoverText(v: Extract<DemoVerdict, { kind: 'false-failover' }>, t0: number, timing: { heartbeatMs: number; failureTimeoutMs: number; failureTimeoutMaxMs?: number | undefined }): string {
  const epoch = v.epoch !== undefined ? ` in epoch ${v.epoch}` : '';
  const when = v.duringHold ? "during the demo's hold of the backup's acknowledgements, before the kill" : 'while both replicas were running';
  const seen = v.afterKillSeen ? ` (at +${Math.round(v.atMs - t0)} ms; its line reached the demo only after the kill, so the kill found a pair that had already split)` : '';
  const { heartbeatMs: h, failureTimeoutMs: d } = timing;
  return (
    `replica ${v.replica} reported ${v.event}${epoch} ${when}${seen}: this machine is too slow for heartbeat ${h} ms and failure timeout ${d} ms; ` +
    `rerun with --heartbeat-ms ${h * 5} --failure-timeout-ms ${d * 5}` +
    (timing.failureTimeoutMaxMs === undefined ? `, or let the failure detector adapt: --failure-timeout-max-ms ${d * 10}` : '')
  );
}

/** The problem line of a load that finished before the kill. */
export function loadFinishedText(v: Extract<DemoVerdict, { kind: 'load-finished-before-kill' }>, killAfterMs: number): string {
  return `the load finished before the kill (its last stream ended ${Math.round(v.killAtMs - v.loadDoneAtMs)} ms before the kill -9 at --kill-after-ms ${killAfterMs}): nothing was left to fail over; lower --kill-after-ms or raise --bytes`;
}
