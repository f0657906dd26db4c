/**
 * `ftcp experiment`: measured answers to the design's questions, in the simulator.
 *
 *   ftcp experiment modes [--seeds LIST] [--modes LIST] [--workloads LIST] [--log-loss P] [--lossy-ms MS] [--json]
 *   ftcp experiment state-transfer [--seeds LIST] [--workloads LIST] [--interval-ms LIST] [--json]
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
import { parseMilliseconds, parseProbability } from './validate.js';

interface ModesFlags {
  seeds: string;
  modes: string;
  workloads: string;
  logLoss: string;
  lossyMs: string;
  json?: boolean;
}

export function registerExperimentCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const experiment = program.command('experiment').description('measured answers in the simulator: output modes (what the output rule costs and buys), replicating operations against shipping state');
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
        '.',
    )
    .option('--seeds <list>', 'seeds, comma-separated or a range a-b', MODES_DEFAULTS.seeds.join(','))
    .option('--modes <list>', `modes, comma-separated: ${OUTPUT_MODES.join(', ')}`, MODES_DEFAULTS.modes.join(','))
    .option('--workloads <list>', `workloads, comma-separated: ${MODES_WORKLOAD_NAMES.join(', ')}`, MODES_DEFAULTS.workloads.join(','))
    .option('--log-loss <p>', 'share of log frames from the primary to the backup lost before the kill', String(MODES_DEFAULTS.logLoss))
    .option('--lossy-ms <ms>', 'the log channel turns lossy this long before the kill', String(MODES_DEFAULTS.lossyBeforeKillUs / 1000))
    .option('--json', 'print one JSON object (and nothing else) on stdout')
    .addHelpText('after', '\nExit codes: 0 the experiment ran and the output rule showed no anomaly; 1 the output rule showed one (a bug); 2 bad usage.\n\nExample:\n  ftcp experiment modes --seeds 1-30 --workloads counter --json')
    .action((flags: ModesFlags) => {
      setExitCode(experimentModes(flags, io));
    });
  registerStateTransferCommand(experiment, io, setExitCode);
}

function experimentModes(flags: ModesFlags, io: CliIo): number {
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
