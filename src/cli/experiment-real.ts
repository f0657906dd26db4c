/**
 * `ftcp experiment modes --real`: the output modes with real replica processes on loopback
 * (src/lab/experiment-modes-real.ts). Flags, validation, the table or one JSON object, the
 * exit code.
 */
import type { Command } from 'commander';
import { OUTPUT_MODES, type OutputMode } from '../replica/output-mode.js';
import { REAL_WORKLOAD_NAMES, runRealModes } from '../lab/experiment-modes-real.js';
import type { ModesLoadWorkload } from '../lab/experiment-load.js';
import { formatRealModesReport } from './experiment-format.js';
import { parseNameList } from './experiment-list.js';
import type { ModesFlags } from './experiment.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parsePositiveMs } from './replica.js';
import { checkOutputDir, parseIntegerFlag } from './validate.js';

export const MAX_REAL_TRIALS = 50;

export const REAL_HELP = 'run the smaller real-process set instead of the simulator (above): real replica processes on loopback, kill -9 of the primary with the log lagging; wall-clock figures, anomalies counted over --trials';

/** Flags of the simulator that --real would ignore: refused, not dropped silently. */
const SIM_ONLY = ['seeds', 'logLoss', 'lossyMs'] as const;
const REAL_ONLY = ['trials', 'heartbeatMs', 'failureTimeoutMs', 'captureDir'] as const;
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The simulator's run: --real's own flags were given without --real. */
export function refuseRealOnly(command: Command): void {
  for (const k of REAL_ONLY) if (command.getOptionValueSource(k) === 'cli') throw new UsageError(`${flagName(k)} is for --real (real processes); add --real or drop it`);
}

export async function experimentModesReal(flags: ModesFlags, command: Command, io: CliIo): Promise<number> {
  for (const k of SIM_ONLY) if (command.getOptionValueSource(k) === 'cli') throw new UsageError(`${flagName(k)} is for the simulator; --real runs real processes (use --trials)`);
  const modes = parseNameList('--modes', flags.modes, OUTPUT_MODES) as OutputMode[];
  const workloads = parseNameList('--workloads', flags.workloads, REAL_WORKLOAD_NAMES) as ModesLoadWorkload[];
  const trials = parseIntegerFlag('--trials', flags.trials, 1, MAX_REAL_TRIALS);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= 2 * heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be more than twice --heartbeat-ms (${heartbeatMs}): the log is lost for (D - H) / 2 before the kill, which must leave the backup a heartbeat to spare`);
  checkOutputDir('--capture-dir', flags.captureDir);
  const json = flags.json === true;
  const report = await runRealModes({ modes, workloads, trials, heartbeatMs, failureTimeoutMs, captureDir: flags.captureDir, say: (text) => io.stderr(`experiment modes --real: ${text}\n`) });
  if (json) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(formatRealModesReport(report));
  const rule = report.rows.filter((r) => r.mode === 'output-rule');
  if (rule.some((r) => r.anomalyTrials > 0)) {
    io.stderr(`experiment modes --real: the output rule showed an anomaly: that is a bug; its captures: ${rule.find((r) => r.anomalyTrials > 0)!.firstDir ?? report.dir}\n`);
    return EXIT.correctness;
  }
  if (rule.some((r) => r.trials === 0)) {
    io.stderr('experiment modes --real: no trial of the output rule could be measured (false failovers before the kill: the machine is too busy for these timings; try a larger --failure-timeout-ms)\n');
    return EXIT.liveness;
  }
  return EXIT.ok;
}
