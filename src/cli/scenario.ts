/**
 * `ftcp scenario run FILE`: a scripted failover demo with real processes: the flags and the
 * file's validation; the run is src/lab/scenario-run.ts.
 *
 * Prints the timeline as it happens and each expectation's verdict; exits 1 when one fails
 * (saying which), 2 when the file is not a valid scenario, 4 when a step could not be
 * carried out (a child that did not start, a wait that timed out), 130 after SIGINT or
 * SIGTERM (every child stopped first).
 */
import { Option, type Command } from 'commander';
import { loadScenario, ScenarioError, type Scenario } from '../lab/scenario.js';
import { runScenarioFile } from '../lab/scenario-run.js';
import { exitCodeOf, UsageError, type CliIo } from './io.js';
import { parseKernelTool } from './kernel-client.js';
import { parsePositiveMs } from './replica.js';
import { checkOutputDir, parseIntegerFlag } from './validate.js';
import { helpAfter } from './help-layout.js';

interface RunFlags {
  captureDir: string;
  heartbeatMs?: string;
  failureTimeoutMs?: string;
  json?: boolean;
  report?: boolean;
  // ---- the kernel as the client ----
  client?: string;
  kernelTool?: string;
  tunMtu?: string;
  netnsInner?: string;
}

export function registerScenarioCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const scenario = program.command('scenario').description('scripted failover demos: YAML or JSON files of timed steps, run with real processes');
  scenario
    .command('run')
    .argument('<file>', 'the scenario (.yaml, .yml or .json); examples in scenarios/')
    .description(
      'Runs the steps of FILE in order (start the network and replicas, put load on, kill, partition or heal the ' +
        'log channel, stop or restart the arbiter, start a joining backup, wait, expect) and checks every ' +
        'expectation. Captures and each process\'s event lines go to <capture-dir>/scenario-<name>-<time>/.',
    )
    .option('--capture-dir <dir>', 'where the run directory is made', 'captures')
    .option('--heartbeat-ms <ms>', 'override the file\'s heartbeatMs (a loaded machine)')
    .option('--failure-timeout-ms <ms>', 'override the file\'s failureTimeoutMs (a loaded machine: false failovers)')
    .option('--json', 'print only the result, as one JSON object')
    .option('--no-report', 'do not write report.json and report.html (the page of the run) in the run directory')
    // ---- the kernel as the client ----
    .option('--client <kind>', 'override the file\'s client: ftcp (the load client on the ftcp stack) or kernel (Linux\'s own TCP,\nthrough a TUN device in a network namespace made for the run; needs root and socat)')
    .option('--kernel-tool <name>', 'override the file\'s kernelTool: node (Node net sockets) or nc (echo only)')
    .option('--tun-mtu <bytes>', 'override the file\'s tunMtu, the TUN device\'s MTU (client kernel)')
    .addOption(new Option('--netns-inner <name>', 'internal: this run is the one inside the namespace').hideHelp())
    .addHelpText('after', helpAfter('\nExit codes: 0 every expectation held; 1 one failed; 2 the file is not a valid scenario, or\n--client kernel lacks root or socat; 4 a step could not be carried out; 130 interrupted (SIGINT, SIGTERM).\n\nExamples:\n  ftcp scenario run scenarios/failover.yaml\n  ftcp scenario run scenarios/failover.yaml --client kernel'))
    .action(async (file: string, flags: RunFlags) => {
      setExitCode(await runScenarioCommand(file, flags, io));
    });
}

async function runScenarioCommand(file: string, flags: RunFlags, io: CliIo): Promise<number> {
  let s;
  try {
    s = loadScenario(file);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    throw error;
  }
  checkOutputDir('--capture-dir', flags.captureDir);
  if (flags.heartbeatMs !== undefined) s.heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  if (flags.failureTimeoutMs !== undefined) s.failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (s.failureTimeoutMs <= s.heartbeatMs) throw new UsageError(`the failure timeout (${s.failureTimeoutMs} ms) must be longer than the heartbeat (${s.heartbeatMs} ms)`);
  applyKernelFlags(s, flags);
  const outcome = await runScenarioFile(s, { file, captureDir: flags.captureDir, json: flags.json === true, noReport: flags.report === false, ...(flags.netnsInner !== undefined ? { netnsInner: flags.netnsInner } : {}) }, io);
  return exitCodeOf(outcome);
}

// ---- the kernel as the client ----

function applyKernelFlags(s: Scenario, flags: RunFlags): void {
  if (flags.client !== undefined) {
    if (flags.client !== 'ftcp' && flags.client !== 'kernel') throw new UsageError(`--client must be ftcp or kernel, got ${flags.client}`);
    s.client = flags.client;
  }
  if (flags.kernelTool !== undefined) {
    if (flags.kernelTool === 'curl') throw new UsageError('--kernel-tool curl speaks http, which scenarios do not run; use node or nc');
    s.kernelTool = parseKernelTool('--kernel-tool', flags.kernelTool, s.app);
  }
  if (flags.tunMtu !== undefined) s.tunMtu = parseIntegerFlag('--tun-mtu', flags.tunMtu, 576, 65_000);
  if (s.client !== 'kernel' && (flags.kernelTool !== undefined || flags.tunMtu !== undefined)) throw new UsageError('--kernel-tool and --tun-mtu need the kernel as the client (--client kernel, or client: kernel in the file)');
}
