/**
 * `ftcp chaos`: the flags of the fault campaign with real processes (the run is
 * src/lab/chaos-run.ts, each trial src/lab/chaos-trial.ts).
 *
 *   ftcp chaos --trials N [--seed S] [--only T] [--json] [--app A] [--faults K,...] ...
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { CHAOS_APPS, CHAOS_FAULTS, DEFAULT_FAULTS, JOIN_LOAD_FACTOR, type ChaosApp, type ChaosFault, type ChaosOptions } from '../lab/chaos-trial.js';
import { runChaos } from '../lab/chaos-run.js';
import { MAX_CPU_HOGS, withCpuHogs } from '../lab/cpu-hogs.js';
import { parseCpuHogs } from './cpu-hogs-flag.js';
import { exitCodeOf, UsageError, type CliIo } from './io.js';
import { FAILURE_TIMEOUT_MAX_HELP, FAILURE_TIMEOUT_START_HELP, optional, parseFailureTimeoutMax, parseFailureTimeoutStart } from './failure-timeout-max-flag.js';
import { DEMO_MTU } from '../lab/live-cluster.js';
import { MAX_LOGGED_PACKET_BYTES } from '../replica/primary.js';
import { parsePositiveMs, parseReplicaMtu } from './replica.js';
import { checkOutputDir, parseByteCount, parseIntegerFlag, parseMilliseconds, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

export interface ChaosFlags {
  cpuHogs: string;
  trials: string;
  seed?: string;
  only?: string;
  app: string;
  connections: string;
  bytes: string;
  mtu: string;
  faults: string;
  momentMaxMs: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  failureTimeoutMaxMs?: string;
  failureTimeoutStartMs?: string;
  captureDir: string;
  keep?: boolean;
  json?: boolean;
  report?: boolean;
}

export function registerChaosCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('chaos')
    .summary('fault campaign with real processes: kill -9 and SIGSTOP of replicas under load, every byte checked')
    .description(
      'Runs N trials. Each starts an arbiter, a switch, a primary and a backup and a load client (uploads and\n' +
        'downloads, every byte checked) as processes on loopback, and at a moment drawn from the trial\'s seed:\n' +
        '  kill-primary      kill -9 of the primary (the backup must go live)\n' +
        '  kill-backup       kill -9 of the backup (the primary must carry on alone)\n' +
        '  kill-backup-join  kill -9 of the backup, a new backup joins, then kill -9 of the primary\n' +
        '  pause-primary     SIGSTOP of the primary until the backup has taken over, then SIGCONT: the old\n' +
        '                    primary must lose the test-and-set and stop, and whatever it emits after the\n' +
        '                    SIGCONT must be byte-identical to what the new primary sent for that sequence range\n' +
        '  pause-backup      SIGSTOP of the backup until the primary serves alone, then SIGCONT: the old backup\n' +
        '                    must lose the test-and-set, stop, and put nothing on the wire\n' +
        '  pause-race        (only with --faults) SIGSTOP of the primary for 50..200 % of D, then SIGCONT\n' +
        '                    whatever happened: it races the backup for the test-and-set; the loser must step down\n' +
        'Checked on every trial: no stream broken (no byte lost, duplicated or corrupted, no reset), no two\n' +
        'replicas live in one epoch, no epoch granted twice by the arbiter, re-emitted segments identical.',
    )
    .option('--trials <n>', 'how many trials, 1..100000', '10')
    .option('--seed <s>', 'run seed, 0..4294967295: fixes every trial\'s fault, moments and data (default: from the wall clock, printed)')
    .option('--only <t>', 'run trial T of the seed alone (how a failure is reproduced)')
    .option('--app <name>', `the built-in app under load: ${CHAOS_APPS.join(', ')} (bulk: uploads and downloads)`, 'bulk')
    .option('--connections <n>', 'client connections per trial, 1..100', '2')
    .option('--bytes <n>', `bulk: bytes each way per connection (kill-backup-join: ${JOIN_LOAD_FACTOR} times as many)`, '300K')
    .option('--mtu <bytes>', `the replicas' and the client's link MTU, 68..${MAX_LOGGED_PACKET_BYTES} (MSS = mtu - 40; 1500 keeps many segments in flight at each fault)`, String(DEMO_MTU))
    .option('--faults <kinds>', `comma-separated fault kinds to draw from: ${CHAOS_FAULTS.join(', ')}`, DEFAULT_FAULTS.join(','))
    .option('--moment-max-ms <ms>', 'the fault comes 0..this long after the load started', '400')
    .option('--heartbeat-ms <ms>', 'H, the log channel\'s heartbeat', '20')
    .option('--failure-timeout-ms <ms>', 'D, silence before the arbiter is asked (the product\'s 50 ms makes false failovers on a busy machine)', '300')
    .option('--failure-timeout-max-ms <ms>', FAILURE_TIMEOUT_MAX_HELP)
    .option('--failure-timeout-start-ms <ms>', FAILURE_TIMEOUT_START_HELP)
    .option('--capture-dir <dir>', 'write each trial\'s captures and event lines to <dir>/chaos-seed<S>/trial-<T>/ (kept for failed trials and false failovers)', 'captures')
    .option('--keep', 'keep the run directories of trials that passed too (default: off)')
    .option('--json', 'print one JSON object with the totals as the last line of stdout')
    .option('--no-report', 'do not write report.json and report.html (the page of the trial) in the run directories kept')
    .option('--cpu-hogs <n>', `run N busy processes beside every trial, 0..${MAX_CPU_HOGS}, to try failure detection on an overloaded machine`, '0')
    .addHelpText(
      'after',
      helpAfter('\nExit codes: 0 every trial passed; 1 a stream broke, split brain, or a non-identical emission;\n' +
        '2 bad usage; 3 liveness only (nobody went live, a process did not stop).\n\n' +
        'Examples:\n  ftcp chaos --trials 100 --json\n  ftcp chaos --seed 7 --only 12')
    )
    .action(async (flags: ChaosFlags) => {
      setExitCode(await chaosCommand(flags, io));
    });
}

function parseFaults(text: string): ChaosFault[] {
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
  for (const k of kinds) if (!(CHAOS_FAULTS as readonly string[]).includes(k)) throw new UsageError(`--faults: unknown kind ${k}; the kinds are ${CHAOS_FAULTS.join(', ')}`);
  if (kinds.length === 0) throw new UsageError(`--faults needs at least one of ${CHAOS_FAULTS.join(', ')}`);
  return [...new Set(kinds)] as ChaosFault[];
}

async function chaosCommand(flags: ChaosFlags, io: CliIo): Promise<number> {
  const trials = parseIntegerFlag('--trials', flags.trials, 1, 100_000);
  const seedFromClock = flags.seed === undefined;
  const only = flags.only === undefined ? undefined : parseIntegerFlag('--only', flags.only, 1, 100_000);
  const o = chaosOptions(flags, io);
  const outcome = await withCpuHogs(parseCpuHogs(flags.cpuHogs), io, () => runChaos({ ...o, trials, seedFromClock, keep: flags.keep === true, json: flags.json === true, noReport: flags.report === false, ...(only !== undefined ? { only } : {}) }, io));
  return exitCodeOf(outcome);
}

/** The campaign's options from its flags (bad ones are a UsageError); the seed from the clock when none is given. */
export function chaosOptions(flags: ChaosFlags, io: Pick<CliIo, 'nowMs'>): ChaosOptions {
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  if (!(CHAOS_APPS as readonly string[]).includes(flags.app)) throw new UsageError(`--app must be one of ${CHAOS_APPS.join(', ')}, got ${flags.app}`);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  const bytes = parseByteCount('--bytes', flags.bytes);
  if (bytes < 1) throw new UsageError(`--bytes must be at least 1, got ${flags.bytes}`);
  checkOutputDir('--capture-dir', flags.captureDir);
  const failureTimeoutMaxMs = parseFailureTimeoutMax(flags.failureTimeoutMaxMs, failureTimeoutMs);
  return {
    seed,
    app: flags.app as ChaosApp,
    connections: parseIntegerFlag('--connections', flags.connections, 1, 100),
    bytes,
    faults: parseFaults(flags.faults),
    momentMaxMs: parseMilliseconds('--moment-max-ms', flags.momentMaxMs, 60_000),
    heartbeatMs,
    failureTimeoutMs,
    ...optional('failureTimeoutMaxMs', failureTimeoutMaxMs),
    ...optional('failureTimeoutStartMs', parseFailureTimeoutStart(flags.failureTimeoutStartMs, failureTimeoutMs, failureTimeoutMaxMs)),
    mtu: parseReplicaMtu(flags.mtu),
    dir: join(flags.captureDir, `chaos-seed${seed}`),
  };
}
