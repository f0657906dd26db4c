/**
 * A worker thread of `ftcp sim sweep --jobs J`: runs the seeds the parent sends, one at a
 * time, and posts each result back. A run that throws is reported as a crash of that seed
 * (the simulator catches the stack's exceptions itself; this is the last line of defence).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runSweepSeed, sweepCommandLine, type SweepRunResult } from '../sim/sweep.js';

export type WorkerRequest = { seed: number } | { stop: true };
export type WorkerReply = { seed: number; result: SweepRunResult };

export function runSeedSafely(seed: number): SweepRunResult {
  try {
    return runSweepSeed(seed);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { seed, app: 'echo', scenario: 'primary-crash', ok: false, faults: {}, liveMs: [], violation: { kind: 'crash', message: `threw: ${message}` }, command: sweepCommandLine(seed) };
  }
}

/** Set in workerData by the parent, so that importing this module elsewhere (a test runner's thread) does nothing. */
export const WORKER_MARK = 'ftcp-sim-sweep-worker';

if (parentPort !== null && workerData === WORKER_MARK) {
  const port = parentPort;
  port.on('message', (m: WorkerRequest) => {
    if ('stop' in m) {
      port.close();
      return;
    }
    const reply: WorkerReply = { seed: m.seed, result: runSeedSafely(m.seed) };
    port.postMessage(reply);
  });
}
