/**
 * How a long-running ftcp process (switch, arbiter, replica) learns that it should stop:
 * SIGTERM or SIGINT. The handlers are removed when the first signal arrives (or on
 * dispose), so a second signal falls back to Node's default and ends the process at once.
 */
import { wallClockMs } from './clock.js';

export interface StopSignal {
  /** Resolves with the signal's name, or the reason given to stop(). */
  readonly stopped: Promise<string>;
  /** When the first signal (or stop()) arrived, wall clock ms; undefined before. */
  readonly atMs: number | undefined;
  /** Resolves `stopped` as if a signal came (for errors that end the process cleanly). */
  stop(reason: string): void;
  dispose(): void;
}

/**
 * Set by an orchestrator (`ftcp demo failover`, scenarios) in its children's environment:
 * a child whose parent has died (killed with SIGKILL, so it could not stop its children)
 * stops as if it had received SIGTERM, instead of running on as an orphan.
 */
export const EXIT_WITH_PARENT_ENV = 'FTCP_EXIT_WITH_PARENT';
/** How often an orphan check runs. */
const PARENT_CHECK_MS = 250;

export function waitForStopSignal(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): StopSignal {
  let resolveStopped!: (s: string) => void;
  const stopped = new Promise<string>((resolve) => (resolveStopped = resolve));
  let atMs: number | undefined;
  const handler = (signal: string) => {
    atMs ??= wallClockMs();
    dispose();
    resolveStopped(signal);
  };
  let parentCheck: NodeJS.Timeout | undefined;
  const dispose = () => {
    for (const s of signals) process.off(s, handler);
    if (parentCheck !== undefined) clearInterval(parentCheck);
  };
  for (const s of signals) process.on(s, handler);
  if (process.env[EXIT_WITH_PARENT_ENV] === '1') {
    // A dead parent's children are re-parented (to init or a subreaper): ppid changes.
    const parent = process.ppid;
    parentCheck = setInterval(() => {
      if (process.ppid !== parent) handler('parent exited');
    }, PARENT_CHECK_MS);
    parentCheck.unref();
  }
  return {
    stopped,
    get atMs() {
      return atMs;
    },
    stop: (reason) => handler(reason),
    dispose,
  };
}
