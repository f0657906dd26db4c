/**
 * The seeds of `ftcp sim sweep` run in this thread, or handed to worker threads
 * (sweep-worker.ts) one at a time each; results come back in completion order.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SweepRunResult } from '../sim/sweep.js';
import { runSeedSafely, WORKER_MARK, type WorkerReply, type WorkerRequest } from './sweep-worker.js';

/** The compiled worker beside this file; missing when the sources run directly (tests), then jobs run in-process. */
export function sweepWorkerPath(): string | undefined {
  const path = fileURLToPath(new URL('./sweep-worker.js', import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** Seeds first..first+seeds-1, on `jobs` worker threads (in this thread for one job, or without the compiled worker). */
export async function runSweepSeeds(first: number, seeds: number, jobs: number, onResult: (r: SweepRunResult) => void): Promise<void> {
  const worker = sweepWorkerPath();
  if (jobs === 1 || worker === undefined) {
    for (let seed = first; seed < first + seeds; seed++) onResult(runSeedSafely(seed));
    return;
  }
  await runInWorkers(worker, first, seeds, jobs, onResult);
}

/** Hand seeds to `jobs` workers, one at a time each, until all are done; results in completion order. */
function runInWorkers(path: string, first: number, seeds: number, jobs: number, onResult: (r: SweepRunResult) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = first;
    let done = 0;
    let failed = false;
    const workers: Worker[] = [];
    const feed = (w: Worker) => {
      if (next < first + seeds) w.postMessage({ seed: next++ } satisfies WorkerRequest);
      else w.postMessage({ stop: true } satisfies WorkerRequest);
    };
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(path, { workerData: WORKER_MARK });
      workers.push(w);
      w.on('message', (m: WorkerReply) => {
        onResult(m.result);
        done++;
        if (done === seeds) {
          // Every seed is in: stop the workers, or their open ports keep the process alive.
          void Promise.all(workers.map((x) => x.terminate())).then(() => resolve(), reject);
        } else {
          feed(w);
        }
      });
      w.on('error', (error) => {
        if (failed) return;
        failed = true;
        for (const x of workers) void x.terminate();
        reject(error);
      });
      feed(w);
    }
  });
}

