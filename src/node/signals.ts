/**
 * How a long-running ftcp process (switch, arbiter, replica) learns that it should stop:
 * SIGTERM or SIGINT. The handlers are removed when the first signal arrives (or on
 * dispose), so a second signal falls back to Node's default and ends the process at once.
 */
export interface StopSignal {
  /** Resolves with the signal's name, or the reason given to stop(). */
  readonly stopped: Promise<string>;
  /** Resolves `stopped` as if a signal came (for errors that end the process cleanly). */
  stop(reason: string): void;
  dispose(): void;
}

export function waitForStopSignal(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): StopSignal {
  let resolveStopped!: (s: string) => void;
  const stopped = new Promise<string>((resolve) => (resolveStopped = resolve));
  const handler = (signal: string) => {
    dispose();
    resolveStopped(signal);
  };
  const dispose = () => {
    for (const s of signals) process.off(s, handler);
  };
  for (const s of signals) process.on(s, handler);
  return {
    stopped,
    stop: (reason) => handler(reason),
    dispose,
  };
}
