/**
 * Scheduling priority of a cluster process (replica, arbiter, switch). On a machine with
 * more runnable work than cores, a process at the default nice 0 waits its turn behind
 * every CPU-bound neighbour, and a replica that is not scheduled for longer than the
 * failure timeout looks dead to its peer. Like keepalived's VRRP process (its vrrp_priority
 * setting is a nice value), each process raises its own priority at start: a process at
 * nice -10 weighs about nine times one at nice 0 with the kernel's fair scheduler, so it
 * runs soon after it wakes while busy neighbours at nice 0 wait.
 *
 * Linux keeps the nice value per thread, so every thread of the process is set (those in
 * /proc/self/task), not only the main one: V8's garbage-collector helpers run beside the
 * event loop, and the loop waits for them. Threads started later inherit the main thread's.
 * Not permitted (no CAP_SYS_NICE, RLIMIT_NICE) is one line and no failure: the process
 * runs on at the priority it has.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export const DEFAULT_NICE = -10;
export const MIN_NICE = -20;
export const MAX_NICE = 19;

export interface PriorityOs {
  /** Thread ids of this process (empty when they cannot be listed). */
  threads(): number[];
  /** Sets the nice value of one thread (0: the calling one). Throws when not permitted. */
  set(tid: number, nice: number): void;
  get(tid: number): number;
}

const realOs: PriorityOs = {
  threads: () => {
    try {
      return readdirSync('/proc/self/task').map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
    } catch {
      return [];
    }
  },
  set: (tid, nice) => setPriority(tid, nice),
  get: (tid) => getPriority(tid),
};

export interface PriorityResult {
  /** The nice value asked for. */
  nice: number;
  /** Threads set to it. */
  set: number;
  /** Threads that could not be set (ended meanwhile, or not permitted). */
  failed: number;
  /** Why the first one failed, when one did. */
  error?: string;
}

/**
 * Sets this process's threads to `nice`. Nothing to do when `nice` is undefined. The main
 * thread first: when that is refused, the others are not tried.
 */
export function applyNice(nice: number, os: PriorityOs = realOs): PriorityResult {
  const result: PriorityResult = { nice, set: 0, failed: 0 };
  try {
    os.set(0, nice);
    result.set++;
  } catch (error) {
    result.failed++;
    result.error = error instanceof Error ? error.message : String(error);
    return result;
  }
  const main = process.pid;
  for (const tid of os.threads()) {
    if (tid === main) continue;
    try {
      os.set(tid, nice);
      result.set++;
    } catch (error) {
      // a thread may have ended between the listing and now
      result.failed++;
      result.error ??= error instanceof Error ? error.message : String(error);
    }
  }
  return result;
}

/** The one line for a result that did not set the main thread (undefined when it did). */
export function describeNiceFailure(who: string, r: PriorityResult, os: PriorityOs = realOs): string | undefined {
  if (r.set > 0) return undefined;
  let now = '?';
  try {
    now = String(os.get(0));
  } catch {
    // keep '?'
  }
  return `${who}: could not raise the scheduling priority to nice ${r.nice} (${r.error ?? 'refused'}); running at nice ${now}, so CPU-bound neighbours can delay its heartbeats\n`;
}

/** applyNice, and its one line to `warn` when not permitted. */
export function raiseOwnPriority(who: string, nice: number, warn: (line: string) => void, os: PriorityOs = realOs): PriorityResult {
  const r = applyNice(nice, os);
  const line = describeNiceFailure(who, r, os);
  if (line !== undefined) warn(line);
  return r;
}
