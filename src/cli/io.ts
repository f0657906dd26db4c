import type { InnerExit, LabIo, RunOutcome } from '../lab/io.js';

/**
 * What a command may touch of the outside world, so tests can run commands in-process:
 * the lab's (stdout, stderr, the wall clock: default seeds, progress pacing) and more.
 */
export interface CliIo extends LabIo {
  /** stderr is a terminal: progress lines are shown by default and redrawn in place. */
  stderrIsTty: boolean;
}

/**
 * A closed stdout or stderr (`ftcp ... | head`, or an orchestrator that died) must not
 * crash a replica or a switch: EPIPE on either is ignored and later output is dropped.
 */
function survivePipeErrors(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

export function processIo(): CliIo {
  survivePipeErrors();
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stderrIsTty: process.stderr.isTTY === true,
    nowMs: () => Date.now(),
  };
}

/**
 * Exit codes (TigerBeetle's VOPR style: the code says what kind of failure it was).
 * 0 success; 1 correctness (bytes differ, or a restored stack diverged); 2 usage;
 * 3 liveness (the run stopped making progress); 4 a connection failed (reset, timed out);
 * 5 the stack crashed (threw).
 */
export const EXIT = {
  ok: 0,
  correctness: 1,
  usage: 2,
  liveness: 3,
  connection: 4,
  crash: 5,
} as const;

/** The exit code of a lab run's outcome (130 after SIGINT or SIGTERM, as a shell says). */
export function exitCodeOf(outcome: RunOutcome | InnerExit): number {
  if (typeof outcome === 'object') return outcome.innerExitCode;
  return outcome === 'interrupted' ? 130 : EXIT[outcome];
}

/** A usage error found after parsing (bad flag value): message for stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
