/**
 * `ftcp experiment`: measured answers to the design's questions, in the simulator (and, for
 * the output modes, a smaller set with real processes: experiment-real.ts).
 *
 *   ftcp experiment modes [--seeds LIST] [--modes LIST] [--workloads LIST] [--log-loss P] [--lossy-ms MS] [--json]
 *   ftcp experiment state-transfer [--seeds LIST] [--workloads LIST] [--interval-ms LIST] [--json]
 *
 *   ftcp experiment modes --real [--trials N] [--modes LIST] [--workloads LIST] [--heartbeat-ms MS] [--failure-timeout-ms MS] [--json]
 *
 * Each prints a table (or, with --json, one JSON object and nothing else on stdout).
 */
import type { Command } from 'commander';
import { OUTPUT_MODES, type OutputMode } from '../replica/output-mode.js';
import { MODES_DEFAULTS, MODES_WORKLOAD_NAMES, MODES_WORKLOADS, runModesExperiment, type ModesWorkload } from '../sim/experiment-modes.js';
import { formatModesReport } from './experiment-format.js';
import { EXIT, type CliIo } from './io.js';
import { parseNameList, parseSeedList } from './experiment-list.js';
import { registerStateTransferCommand } from './experiment-state.js';
import { experimentModesReal, MAX_REAL_TRIALS, REAL_HELP, refuseRealOnly } from './experiment-real.js';
import { REAL_DEFAULTS, REAL_WORKLOAD_NAMES, REAL_WORKLOADS } from '../lab/experiment-modes-real.js';
import { parseMilliseconds, parseProbability } from './validate.js';
import { helpAfter } from './help-layout.js';

export interface ModesFlags {
  seeds: string;
  modes: string;
  workloads: string;
  logLoss: string;
  lossyMs: string;
  json?: boolean;
  real?: boolean;
  trials: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  captureDir: string;
}

export function registerExperimentCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const experiment = program.command('experiment').description('measured answers, in the simulator (modes also with real processes, --real): output modes (what the output rule costs and buys), replicating operations against shipping state');
  experiment
    .command('modes')
    .summary('the same seeded workloads under the output rule, without it, and semi-synchronous variants')
    .description(
      'Runs each workload under each output mode, twice per seed, in virtual time:\n' +
        '  steady    no kill: throughput and request latency (p50, p99);\n' +
        '  failover  the log channel from the primary to the backup drops frames shortly before the\n' +
        '            primary is killed (the log lags the output): broken streams, resets, bytes the client\n' +
        '            had that the survivor did not (received, or acknowledged as sent), counter repeats or gaps.\n' +
        'Modes: output-rule (output waits for the backup\'s ack: the default everywhere else), async (no\n' +
        'output rule), acks-at-once (data waits, pure ACKs go at once), ack-on-receipt (the backup acks the\n' +
        'highest index it received, before ordering and applying). Workloads: ' +
        MODES_WORKLOAD_NAMES.map((w) => `${w} (${MODES_WORKLOADS[w].what})`).join('; ') +
        '.\n\nWith --real, a smaller set with real processes on loopback: per workload and mode, --trials pairs of ' +
        '`ftcp replica` (the unsafe modes through their experiment-only --unsafe-output-mode, which warns), a steady ' +
        'second of load, then the primary\'s log frames lost for (D - H) / 2 and kill -9 of the primary. An unsafe ' +
        'mode may show its anomaly only in some trials here; the counts say how many. Workloads: ' +
        REAL_WORKLOAD_NAMES.map((w) => `${w} (${REAL_WORKLOADS[w].what})`).join('; ') +
        '.',
    )
    .option('--seeds <list>', 'seeds, comma-separated or a range a-b', MODES_DEFAULTS.seeds.join(','))
    .option('--modes <list>', `modes, comma-separated: ${OUTPUT_MODES.join(', ')}`, MODES_DEFAULTS.modes.join(','))
    .option('--workloads <list>', `workloads, comma-separated: ${MODES_WORKLOAD_NAMES.join(', ')}`, MODES_DEFAULTS.workloads.join(','))
    .option('--log-loss <p>', 'share of log frames from the primary to the backup lost before the kill', String(MODES_DEFAULTS.logLoss))
    .option('--lossy-ms <ms>', 'the log channel turns lossy this long before the kill', String(MODES_DEFAULTS.lossyBeforeKillUs / 1000))
    .option('--json', 'print one JSON object (and nothing else) on stdout')
    .option('--real', REAL_HELP)
    .option('--trials <n>', `--real: trials per workload and mode, 1..${MAX_REAL_TRIALS}`, String(REAL_DEFAULTS.trials))
    .option('--heartbeat-ms <ms>', '--real: the replicas\' heartbeat H', String(REAL_DEFAULTS.heartbeatMs))
    .option('--failure-timeout-ms <ms>', '--real: the replicas\' failure timeout D (the log is lost for (D - H) / 2 before the kill)', String(REAL_DEFAULTS.failureTimeoutMs))
    .option('--capture-dir <dir>', '--real: each trial\'s captures and process lines go to <dir>/experiment-modes-real/<workload>-<mode>-<trial>/', 'captures')
    .addHelpText(
      'after',
      helpAfter('\nExit codes: 0 the experiment ran and the output rule showed no anomaly; 1 the output rule showed one (a bug); 2 bad usage;\n' +
        '3 (--real) no trial of the output rule could be measured (every one had a false failover before the kill).\n\n' +
        'Examples:\n  ftcp experiment modes --seeds 1-30 --workloads counter --json\n  ftcp experiment modes --real --trials 5 --workloads counter')
    )
    .action(async (flags: ModesFlags, command: Command) => {
      setExitCode(flags.real === true ? await experimentModesReal(flags, command, io) : experimentModes(flags, command, io));
    });
  registerStateTransferCommand(experiment, io, setExitCode);
}

function experimentModes(flags: ModesFlags, command: Command, io: CliIo): number {
  refuseRealOnly(command);
  const seeds = parseSeedList('--seeds', flags.seeds);
  const modes = parseNameList('--modes', flags.modes, OUTPUT_MODES);
  const workloads = parseNameList('--workloads', flags.workloads, MODES_WORKLOAD_NAMES) as ModesWorkload[];
  const logLoss = parseProbability('--log-loss', flags.logLoss);
  const lossyBeforeKillUs = Math.round(parseMilliseconds('--lossy-ms', flags.lossyMs, 1000) * 1000);
  const report = runModesExperiment({ seeds, modes: modes as OutputMode[], workloads, logLoss, lossyBeforeKillUs });
  if (flags.json === true) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(formatModesReport(report));
  const ruleBroke = report.rows.some((r) => r.mode === 'output-rule' && r.anomalySeeds.length > 0);
  if (ruleBroke) io.stderr('experiment modes: the output rule showed an anomaly: that is a bug; repeat it with the seed shown\n');
  return ruleBroke ? EXIT.correctness : EXIT.ok;
}
