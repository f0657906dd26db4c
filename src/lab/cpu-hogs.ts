/**
 * CPU hogs: N busy processes for the length of a run, so the failure detector is tried on
 * a machine with more runnable work than cores (a replica's timers fire late, its peer's
 * heartbeats wait in the socket). Each hog spins in 100 ms slices and exits by itself when
 * the process that started it is gone, so a hog never outlives a run that was killed -9;
 * an orderly end stops them by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { DEFAULT_NICE, raiseOwnPriority } from '../net/priority.js';
import type { LabIo } from './io.js';

/** Spins until its parent (the pid in argv) is gone. */
const HOG = `const parent = Number(process.argv[1]);
function slice() {
  const end = Date.now() + 100;
  while (Date.now() < end) {}
  try { process.kill(parent, 0); } catch { process.exit(0); }
  setImmediate(slice);
}
slice();`;

export const MAX_CPU_HOGS = 64;

export interface CpuHogs {
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

export function startCpuHogs(n: number): CpuHogs {
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const child = spawn(process.execPath, ['-e', HOG, String(process.pid)], { stdio: 'ignore' });
    // A hog is an ordinary neighbour: nice 0, whatever priority the run itself has.
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, 0);
      } catch {
        // it has already exited; nothing to lower
      }
    }
    children.push(child);
  }
  return {
    pids: children.map((c) => c.pid!).filter((pid) => pid !== undefined),
    stop: async () => {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/**
 * Runs `run` with `n` hogs busy beside it (none when n is 0); they are stopped however it
 * ends. The run's own process (it holds the relays that stand in for the network between
 * the replicas, and the client) first takes the cluster processes' priority
 * (src/net/priority.ts), so that hogs delay the processes under test, not the stand-in wire.
 */
export async function withCpuHogs<T>(n: number, io: LabIo, run: () => Promise<T>): Promise<T> {
  if (n === 0) return run();
  raiseOwnPriority('the run', DEFAULT_NICE, (line) => io.stderr(line));
  const hogs = startCpuHogs(n);
  io.stderr(`cpu hogs: ${n} busy process(es) beside the run (pids ${hogs.pids.join(', ')}), stopped at its end\n`);
  try {
    return await run();
  } finally {
    await hogs.stop();
  }
}
