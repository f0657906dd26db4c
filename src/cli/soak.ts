/**
 * `ftcp soak`: the flags of the long run with real processes (the run is src/lab/soak.ts).
 *
 *   ftcp soak --duration 1h [--seed S] [--app A] [--interval-ms N] [--json] [--no-report]
 *
 * At the end the result is kept as soak.json in the run directory, and report.html is drawn
 * from it (src/lab/report/soak-html.ts), as `ftcp report` on that directory would.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { Soak, SOAK_APPS, SOAK_FAULTS, type SoakApp } from '../lab/soak.js';
import { exitCodeOf, UsageError, type CliIo } from './io.js';
import { parsePositiveMs } from './replica.js';
import { checkOutputDir, parseIntegerFlag, parseMilliseconds, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

interface SoakFlags {
  duration: string;
  seed?: string;
  app: string;
  connections: string;
  intervalMs: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  dir: string;
  json?: boolean;
  report: boolean;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** "90s", "10m", "1h" (a whole number and a unit) as seconds, 10 s .. 24 h. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smh])$/.exec(text.trim());
  const s = m === null ? NaN : Number(m[1]) * UNIT_S[m[2]!]!;
  if (!(s >= 10 && s <= 86_400)) throw new UsageError(`--duration must be a whole number with s, m or h (10s .. 24h), like 90s, 10m or 1h; got ${text}`);
  return s;
}

export function registerSoakCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('soak')
    .summary('long run with real processes: a fault every few seconds under steady load, redundancy restored after each')
    .description(
      'Starts an arbiter, a switch, a primary and a backup as processes on loopback and an in-process load client\n' +
        '(rounds of connections, every byte checked), then until the duration is over, every few seconds one fault:\n' +
        `  ${SOAK_FAULTS.join(', ')}\n` +
        'After each replica fault the survivor serves alone and a new process joins it as its backup (--role join);\n' +
        'the next fault comes once it has joined. A failover no fault caused (a false failover) is counted, and\n' +
        'the pair is restored the same way before the next fault. One line per fault; at the end the faults survived, broken\n' +
        'streams, resets, false failovers (a failure detector firing where no fault was) and the VmRSS of each\n' +
        'replica over time, with whether the pair\'s RSS stayed flat (last sixth of the run within 10 % of the\n' +
        'first sixth after a warm-up of a tenth; judged in runs of 10 minutes or more). The result is kept in the run\n' +
        'directory as soak.json (also after a failure or Ctrl-C), and drawn as report.html there, its path printed\n' +
        '(`ftcp report DIR` draws it again): the verdict, the RSS of the pair and of each replica over time, the faults.',
    )
    .option('--duration <d>', 'how long: a whole number with s, m or h (90s, 10m, 1h)', '1h')
    .option('--seed <s>', 'seed of the fault sequence and the load, 0..4294967295 (default: from the wall clock, printed)')
    .option('--app <name>', `the built-in app under load: ${SOAK_APPS.join(', ')} (counter is left out: its count runs across clients, and each load round is a new client)`, 'echo')
    .option('--connections <n>', 'client connections per load round, 1..50', '2')
    .option('--interval-ms <ms>', 'quiet time after redundancy is restored, before the next fault', '3000')
    .option('--heartbeat-ms <ms>', 'H, the log channel\'s heartbeat', '20')
    .option('--failure-timeout-ms <ms>', 'D, silence before the arbiter is asked', '300')
    .option('--dir <dir>', 'run directory (captures, each child\'s lines) goes to <dir>/soak-seed<S>/', 'captures')
    .option('--json', 'print the whole result as one JSON object after the summary')
    .option('--no-report', 'do not draw report.html (the page of the run: the verdict, RSS of each replica over time, the faults) in the run directory; soak.json, the result, is written all the same')
    .addHelpText('after', helpAfter('\nExit codes: 0 every fault survived, nothing broke; 1 a stream broke; 3 a fault after which redundancy\ndid not come back, or a false failover; 4 a reset; 2 bad usage; 130 interrupted.\n\nExamples:\n  ftcp soak --duration 1h\n  ftcp soak --duration 90s --seed 7 --json'))
    .action(async (flags: SoakFlags) => {
      setExitCode(await soakCommand(flags, io));
    });
}

async function soakCommand(flags: SoakFlags, io: CliIo): Promise<number> {
  const durationS = parseDuration(flags.duration);
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  if (!(SOAK_APPS as readonly string[]).includes(flags.app)) throw new UsageError(`--app must be one of ${SOAK_APPS.join(', ')}, got ${flags.app}`);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  checkOutputDir('--dir', flags.dir);
  const soak = new Soak(
    {
      durationS,
      seed,
      app: flags.app as SoakApp,
      connections: parseIntegerFlag('--connections', flags.connections, 1, 50),
      intervalMs: parseMilliseconds('--interval-ms', flags.intervalMs, 600_000),
      heartbeatMs,
      failureTimeoutMs,
      dir: join(flags.dir, `soak-seed${seed}`),
      json: flags.json === true,
      noReport: flags.report === false,
    },
    io,
  );
  return exitCodeOf(await soak.run());
}
