/**
 * `ftcp experiment state-transfer`: replicating operations (the log) against shipping
 * state (checkpoints held until acknowledged), on the workloads of `experiment modes`.
 * The runs are in the simulator (src/sim/experiment-state.ts); their CPU is measured by the
 * lab (src/lab/experiment-state-run.ts).
 */
import type { Command } from 'commander';
import { runStateTransferExperiment, STATE_TRANSFER_DEFAULTS } from '../lab/experiment-state-run.js';
import { MODES_WORKLOAD_NAMES, type ModesWorkload } from '../sim/experiment-modes.js';
import { formatStateReport } from './experiment-format.js';
import { parseNameList, parseSeedList } from './experiment-list.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parseIntegerFlag, parseMilliseconds } from './validate.js';
import { helpAfter } from './help-layout.js';

interface StateFlags {
  seeds: string;
  workloads: string;
  intervalMs: string;
  cpuRepeats: string;
  json?: boolean;
}

export function registerStateTransferCommand(experiment: Command, io: CliIo, setExitCode: (code: number) => void): void {
  experiment
    .command('state-transfer')
    .summary('replicating operations (the log) against shipping state (checkpoints, output held until acknowledged)')
    .description(
      'Runs each workload, in virtual time, three ways: a lone server (no replication); the ordinary pair,\n' +
        'which ships every input to the backup as a log entry and holds output until its entry is\n' +
        'acknowledged; and a checkpointing server, which every C ms snapshots its whole state machine\n' +
        '(the TCP stack with its buffers and timers, and the app), ships it, and holds its output until\n' +
        'the backup acknowledges that checkpoint, as Remus and COLO do. Reports bytes shipped per client\n' +
        'byte (whole checkpoints, and only the changed 4 KiB pages), request latency, throughput, and the\n' +
        'real CPU each run took per MB of client payload (the one figure that is not from virtual time).',
    )
    .option('--seeds <list>', 'seeds, comma-separated or a range a-b', STATE_TRANSFER_DEFAULTS.seeds.join(','))
    .option('--workloads <list>', `workloads, comma-separated: ${MODES_WORKLOAD_NAMES.join(', ')}`, STATE_TRANSFER_DEFAULTS.workloads.join(','))
    .option('--interval-ms <list>', 'checkpoint intervals to compare, ms, comma-separated', STATE_TRANSFER_DEFAULTS.intervalsUs.map((us) => us / 1000).join(','))
    .option('--cpu-repeats <n>', 'run each run this many times and keep its least CPU, 1..20', String(STATE_TRANSFER_DEFAULTS.cpuRepeats))
    .option('--json', 'print one JSON object (and nothing else) on stdout')
    .addHelpText('after', helpAfter('\nExit codes: 0 every method completed every run (streams intact, checkpoints restorable); 1 one did not; 2 bad usage.\n\nExample:\n  ftcp experiment state-transfer --interval-ms 10,25,50 --json'))
    .action((flags: StateFlags) => {
      setExitCode(experimentState(flags, io));
    });
}

function experimentState(flags: StateFlags, io: CliIo): number {
  const seeds = parseSeedList('--seeds', flags.seeds);
  const workloads = parseNameList('--workloads', flags.workloads, MODES_WORKLOAD_NAMES) as ModesWorkload[];
  const intervalsUs = [...new Set(flags.intervalMs.split(',').map((t) => Math.round(parseMilliseconds('--interval-ms', t.trim(), 10_000) * 1000)))];
  if (intervalsUs.some((us) => us < 1000)) throw new UsageError(`--interval-ms: a checkpoint interval must be at least 1 ms, got ${flags.intervalMs}`);
  const cpuRepeats = parseIntegerFlag('--cpu-repeats', flags.cpuRepeats, 1, 20);
  const report = runStateTransferExperiment({ seeds, workloads, intervalsUs, cpuRepeats });
  if (flags.json === true) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(formatStateReport(report));
  const incomplete = report.rows.filter((r) => !r.complete);
  for (const r of incomplete) io.stderr(`experiment state-transfer: ${r.workload} by ${r.method}: a run did not complete (a stream broke, or a checkpoint did not restore)\n`);
  return incomplete.length > 0 ? EXIT.correctness : EXIT.ok;
}
