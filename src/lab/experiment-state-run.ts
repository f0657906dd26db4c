/**
 * `ftcp experiment state-transfer`, the measuring part: the simulated runs
 * (src/sim/experiment-state.ts) are deterministic; the CPU each one took is measured here,
 * around each of the servers' tasks, with the process's CPU clock (user + system), and set against the client
 * bytes it moved. Virtual-time figures (bytes shipped, latency) and real CPU are reported
 * side by side, never mixed.
 */
import { isServerTask, runStateMethod, stateMethodName, type StateMethod, type StateRunFigures, type TaskMeter } from '../sim/experiment-state.js';
import { percentile, round, type ModesWorkload } from '../sim/experiment-modes.js';

export interface StateTransferOptions {
  seeds: number[];
  workloads: ModesWorkload[];
  /** Checkpoint intervals to compare, µs. */
  intervalsUs: number[];
  /** Each run is repeated this many times for its CPU, and the least is kept (interference and GC only ever add). */
  cpuRepeats: number;
}

export const STATE_TRANSFER_DEFAULTS: StateTransferOptions = { seeds: [2, 5, 13, 14], workloads: ['counter', 'upload'], intervalsUs: [25_000], cpuRepeats: 3 };

export interface StateMethodRow {
  workload: ModesWorkload;
  method: string;
  /** Bytes from the primary to the backup per byte of client payload (both directions). */
  shippedPerClientByte: number;
  /** Checkpoints: shipping only the changed 4 KiB pages. */
  dirtyPerClientByte?: number;
  checkpoints?: number;
  /** Mean whole checkpoint, KB. */
  meanCheckpointKB?: number;
  throughputKBps: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Real CPU of the servers' work (primary and backup, or the checkpointing server) per MB of client payload. */
  cpuMsPerMB: number;
  /** The same, less the lone server's on the same workload. */
  addedCpuMsPerMB?: number;
  /** Every stream intact in every run, and (checkpoints) every backup image restored to the primary's state. */
  complete: boolean;
}

export interface StateTransferReport {
  options: StateTransferOptions;
  rows: StateMethodRow[];
  /** How CPU was measured (it is real time on a shared machine, unlike the rest). */
  cpu: string;
}

/** The process's CPU time so far, ms (user + system). */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function runStateTransferExperiment(o: StateTransferOptions, cpuMs: () => number = processCpuMs): StateTransferReport {
  if (o.seeds.length === 0 || o.workloads.length === 0) throw new RangeError('state-transfer needs at least one seed and one workload');
  const methods: StateMethod[] = [{ kind: 'lone' }, { kind: 'log' }, ...o.intervalsUs.map((intervalUs): StateMethod => ({ kind: 'checkpoint', intervalUs }))];
  const rows: StateMethodRow[] = [];
  // Compile every path once before anything is measured: the first run of a method pays the JIT.
  for (const method of methods) for (const workload of o.workloads) runStateMethod(workload, o.seeds[0]!, method);
  for (const workload of o.workloads) {
    let loneCpu: number | undefined;
    for (const method of methods) {
      const runs: StateRunFigures[] = [];
      let cpu = 0;
      for (const seed of o.seeds) {
        let least = Infinity;
        for (let i = 0; i < Math.max(1, o.cpuRepeats); i++) {
          let spent = 0;
          const meter: TaskMeter = (task, run) => {
            if (!isServerTask(task)) return run();
            const before = cpuMs();
            run();
            spent += cpuMs() - before;
          };
          const figures = runStateMethod(workload, seed, method, meter);
          least = Math.min(least, spent);
          if (i === 0) runs.push(figures);
        }
        cpu += least;
      }
      const row = aggregate(workload, stateMethodName(method), runs, cpu);
      if (method.kind === 'lone') loneCpu = row.cpuMsPerMB;
      else if (loneCpu !== undefined) row.addedCpuMsPerMB = round(row.cpuMsPerMB - loneCpu, 1);
      rows.push(row);
    }
  }
  return { options: o, rows, cpu: `process CPU (user + system) of the servers' tasks only (not the simulated client or network), the least of ${Math.max(1, o.cpuRepeats)} runs; real time on this machine as loaded, unlike the virtual-time figures` };
}

function aggregate(workload: ModesWorkload, method: string, runs: StateRunFigures[], cpu: number): StateMethodRow {
  const sum = (f: (r: StateRunFigures) => number) => runs.reduce((n, r) => n + f(r), 0);
  const clientBytes = sum((r) => r.clientBytes);
  const lat = runs.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
  const row: StateMethodRow = {
    workload,
    method,
    shippedPerClientByte: round(sum((r) => r.shippedBytes) / clientBytes, 2),
    throughputKBps: round(clientBytes / 1000 / (sum((r) => r.durationUs) / 1e6), 1),
    cpuMsPerMB: round(cpu / (clientBytes / 1e6), 1),
    complete: runs.every((r) => r.streamsIntact && r.backupConsistent !== false),
  };
  if (runs[0]?.checkpoints !== undefined) {
    const checkpoints = sum((r) => r.checkpoints ?? 0);
    row.dirtyPerClientByte = round(sum((r) => r.shippedDirtyBytes ?? 0) / clientBytes, 2);
    row.checkpoints = checkpoints;
    row.meanCheckpointKB = round(sum((r) => r.shippedBytes) / Math.max(1, checkpoints) / 1000, 1);
  }
  if (lat.length > 0) {
    row.p50Ms = round(percentile(lat, 0.5) / 1000, 2);
    row.p99Ms = round(percentile(lat, 0.99) / 1000, 2);
  }
  return row;
}
