/**
 * `ftcp fuzz`: flags of the packet fuzzer against a live replica pair (src/lab/fuzz-run.ts).
 *
 *   ftcp fuzz [--duration-ms N] [--seed S] [--rate R] [--json] [--capture-dir D]
 */
import type { Command } from 'commander';
import { runFuzz } from '../lab/fuzz-run.js';
import { exitCodeOf, UsageError, type CliIo } from './io.js';
import { parsePositiveMs } from './replica.js';
import { checkOutputDir, parseIntegerFlag, parseMilliseconds, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

interface FuzzFlags {
  durationMs: string;
  seed?: string;
  rate: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  captureDir: string;
  json?: boolean;
}

export function registerFuzzCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('fuzz')
    .summary('random and mutated segments over UDP at a live replica pair, under a byte-checked load')
    .description(
      'Starts a replicated pair (echo app) with load clients that check every byte, and for --duration-ms sends\n' +
        'random and mutated TCP/IP packets at the service through the switch: random bytes, bit flips, truncations,\n' +
        'bad checksums and IP headers, wild options, segments in and out of the window, SYN/RST/FIN combinations,\n' +
        'replays, stray and spoofed packets, corrupt switch control datagrams. Reports what was sent by kind, the\n' +
        'switch\'s and both replicas\' drop counters by reason, crashes, the streams, and whether both replicas still\n' +
        'replicate at the end.',
    )
    .option('--duration-ms <ms>', 'how long to fuzz', '10000')
    .option('--seed <s>', 'seed of every random choice (default: from the wall clock, printed)')
    .option('--rate <n>', 'fuzz datagrams per second, 1..20000', '1000')
    .option('--heartbeat-ms <ms>', 'H, the log channel\'s heartbeat', '10')
    .option('--failure-timeout-ms <ms>', 'D, silence before the arbiter is asked', '50')
    .option('--capture-dir <dir>', 'captures and event logs go to <dir>/fuzz-seed<S>/', 'captures')
    .option('--json', 'print the report as one JSON object on the last line of stdout')
    .addHelpText('after', helpAfter('\nExit codes: 0 ok; 1 a stream broke, a replica crashed or stopped replicating; 2 bad usage;\n4 a load client could not run.\n\nExample:\n  ftcp fuzz --duration-ms 60000 --seed 1 --json'))
    .action(async (flags: FuzzFlags) => {
      setExitCode(await fuzzCommand(flags, io));
    });
}

async function fuzzCommand(flags: FuzzFlags, io: CliIo): Promise<number> {
  const durationMs = parseMilliseconds('--duration-ms', flags.durationMs, 24 * 3_600_000);
  if (durationMs < 1) throw new UsageError(`--duration-ms must be at least 1 (a run of 0 ms sends nothing), got ${flags.durationMs}`);
  const seedFromClock = flags.seed === undefined;
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  const rate = parseIntegerFlag('--rate', flags.rate, 1, 20_000);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  checkOutputDir('--capture-dir', flags.captureDir);
  return exitCodeOf(await runFuzz({ durationMs, seed, seedFromClock, rate, heartbeatMs, failureTimeoutMs, captureDir: flags.captureDir, json: flags.json === true }, io));
}
