/**
 * `ftcp bench` (what `npm run bench` runs): its flags; the run is src/lab/bench-run.ts
 * (docs/performance.md says what each figure measures and how).
 */
import { Option, type Command } from 'commander';
import { BENCH_GROUPS, runBench, type BenchGroup, type BenchOptions } from '../lab/bench-run.js';
import { DEFAULT_PAIR } from '../lab/bench-cluster.js';
import { MAX_SCALE_CONNECTIONS } from '../lab/bench-scale.js';
import { ENDS_PER_ADDRESS } from '../lab/bench-client.js';
import { SWITCHOVER_LOADS, type SwitchoverLoad } from '../lab/bench-switchover.js';
import { MAX_CPU_HOGS, withCpuHogs } from '../lab/cpu-hogs.js';
import { parseCpuHogs } from './cpu-hogs-flag.js';
import { exitCodeOf, UsageError, type CliIo } from './io.js';
import { FAILURE_TIMEOUT_MAX_HELP, FAILURE_TIMEOUT_START_HELP, optional, parseFailureTimeoutMax, parseFailureTimeoutStart } from './failure-timeout-max-flag.js';

export interface BenchFlags {
  failureTimeoutMaxMs?: string;
  failureTimeoutStartMs?: string;
  cpuHogs: string;
  netnsInner?: string;
  quick?: boolean;
  json?: boolean;
  only?: string;
  trials?: string;
  connections?: string;
  switchoverLoad?: string;
}

function parseGroups(text: string | undefined): BenchGroup[] {
  if (text === undefined) return [...BENCH_GROUPS];
  const groups = text.split(',').map((g) => g.trim());
  for (const g of groups) if (!(BENCH_GROUPS as readonly string[]).includes(g)) throw new UsageError(`--only takes a comma-separated list of ${BENCH_GROUPS.join(', ')}, got ${g}`);
  return groups as BenchGroup[];
}

function parseCount(flag: string, text: string | undefined, lo: number, hi: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(Number.isSafeInteger(n) && n >= lo && n <= hi)) throw new UsageError(`${flag} must be an integer from ${lo} to ${hi}, got ${text}`);
  return n;
}

function parseSwitchoverLoad(text: string | undefined): SwitchoverLoad | undefined {
  if (text === undefined) return undefined;
  const load = SWITCHOVER_LOADS.find((l) => l === text.trim());
  if (load === undefined) throw new UsageError(`--switchover-load must be ${SWITCHOVER_LOADS.join(' or ')}, got ${text}`);
  return load;
}

export function registerBenchCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('bench')
    .description('benchmarks: stack, replication, failover, scale (figures with their targets; never asserts)')
    .option('--quick', 'smaller sizes, fewer trials and connections: under a minute (smoke runs)')
    .option('--cpu-hogs <n>', `run N busy processes beside the whole bench, 0..${MAX_CPU_HOGS} (failover figures on an overloaded machine; the report says how many)`, '0')
    .option('--json', 'print one JSON object with every figure as the last line of stdout (the report goes to stderr)')
    .option('--only <groups>', `comma-separated groups to run: ${BENCH_GROUPS.join(', ')} (default: all)`)
    .option('--trials <n>', 'failover trials (default: 30, --quick 3)')
    .option('--connections <n>', `scale: idle connections, 1..${MAX_SCALE_CONNECTIONS} (the replicas get --max-connections to match; the client uses one address of 192.0.2.0/24 per ${ENDS_PER_ADDRESS}) (default: 100000, --quick 500)`)
    .option('--failure-timeout-max-ms <ms>', `failover trials: ${FAILURE_TIMEOUT_MAX_HELP}`)
    .option('--failure-timeout-start-ms <ms>', `failover trials: ${FAILURE_TIMEOUT_START_HELP}`)
    .option('--switchover-load <load>', `switchover trials' workload: ${SWITCHOVER_LOADS.join(' (one 5 MB transfer each way) or ')} (one connection of small requests) (default: bulk)`)
    .addOption(new Option('--netns-inner <name>', 'internal: this run is inside the kernel group\'s network namespace').hideHelp())
    .action(async (flags: BenchFlags) => {
      setExitCode(await benchCommand(flags, io));
    });
}

function benchCommand(flags: BenchFlags, io: CliIo): Promise<number> {
  const options = benchOptions(flags);
  const hogs = flags.netnsInner === undefined ? parseCpuHogs(flags.cpuHogs) : 0; // the outer run holds the hogs
  return withCpuHogs(hogs, io, () => runBench(options, io)).then(exitCodeOf);
}

/** The bench's options from its flags (bad ones are a UsageError). */
export function benchOptions(flags: BenchFlags): BenchOptions {
  const quick = flags.quick === true;
  const groups = parseGroups(flags.only);
  const trials = parseCount('--trials', flags.trials, 1, 1000) ?? (quick ? 3 : 30);
  const connections = parseCount('--connections', flags.connections, 1, MAX_SCALE_CONNECTIONS) ?? (quick ? 500 : 100_000);
  const switchoverLoad = parseSwitchoverLoad(flags.switchoverLoad);
  const failureTimeoutMaxMs = parseFailureTimeoutMax(flags.failureTimeoutMaxMs, DEFAULT_PAIR.failureTimeoutMs);
  return {
    groups,
    quick,
    json: flags.json === true,
    ...(flags.only !== undefined ? { only: flags.only } : {}),
    trials,
    trialsGiven: flags.trials !== undefined,
    connections,
    connectionsGiven: flags.connections !== undefined,
    ...(switchoverLoad !== undefined ? { switchoverLoad } : {}),
    ...optional('failureTimeoutMaxMs', failureTimeoutMaxMs),
    ...optional('failureTimeoutStartMs', parseFailureTimeoutStart(flags.failureTimeoutStartMs, DEFAULT_PAIR.failureTimeoutMs, failureTimeoutMaxMs)),
    ...(flags.netnsInner !== undefined ? { netnsInner: flags.netnsInner } : {}),
  };
}
