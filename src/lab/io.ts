/**
 * What a run of the lab (the demo, fuzz, bench, chaos, scenarios) may touch of the outside
 * world: where it prints and the wall clock it reads. The CLI hands in its own (CliIo
 * extends this), tests a recording one.
 */
export interface LabIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Wall-clock milliseconds (default seeds, durations, run directory names). */
  nowMs(): number;
}

/**
 * How a run ended, for the CLI to turn into its exit code: ok; correctness (bytes differ,
 * split brain, a replication fault); usage (the machine lacks what the run needs, said on
 * stderr); liveness (nobody went live, a stream stalled); connection (a reset, a child that
 * could not start); interrupted (SIGINT or SIGTERM, every child stopped first).
 */
export type RunOutcome = 'ok' | 'correctness' | 'usage' | 'liveness' | 'connection' | 'interrupted';

/**
 * A run inside a network namespace ends with the exit code of the `ftcp` run in there;
 * it is passed on as it is.
 */
export interface InnerExit {
  innerExitCode: number;
}

/**
 * Calls `handler` on the first SIGINT or SIGTERM (a run stops its children and reports);
 * returns what stops listening, to be called when the run is over.
 */
export function onStopSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
