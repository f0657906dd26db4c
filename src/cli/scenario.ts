/**
 * `ftcp scenario run FILE`: a scripted failover demo with real processes (src/lab/scenario.ts).
 *
 * Prints the timeline as it happens and each expectation's verdict; exits 1 when one fails
 * (saying which), 2 when the file is not a valid scenario, 4 when a step could not be
 * carried out (a child that did not start, a wait that timed out), 130 after SIGINT or
 * SIGTERM (every child stopped first).
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Option, type Command } from 'commander';
import { loadScenario, runScenario, ScenarioError, type Scenario, type ScenarioKernel } from '../lab/scenario.js';
import { KERNEL_ADDRESS, TUN_DEVICE } from '../lab/netns.js';
import { describeKernel, KernelSide, kernelSwitchArgs, runInNetns, startKernelClient, type KernelReport } from './demo-kernel.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parseKernelTool } from './kernel-client.js';
import { parsePositiveMs } from './replica.js';
import { parseIntegerFlag } from './validate.js';

interface RunFlags {
  captureDir: string;
  heartbeatMs?: string;
  failureTimeoutMs?: string;
  json?: boolean;
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
    // ---- the kernel as the client ----
    .option('--client <kind>', 'override the file\'s client: ftcp (the load client on the ftcp stack) or kernel (Linux\'s own TCP,\nthrough a TUN device in a network namespace made for the run; needs root and socat)')
    .option('--kernel-tool <name>', 'override the file\'s kernelTool: node (Node net sockets) or nc (echo only)')
    .option('--tun-mtu <bytes>', 'override the file\'s tunMtu, the TUN device\'s MTU (client kernel)')
    .addOption(new Option('--netns-inner <name>', 'internal: this run is the one inside the namespace').hideHelp())
    .addHelpText('after', '\nExit codes: 0 every expectation held; 1 one failed; 2 the file is not a valid scenario, or\n--client kernel lacks root or socat; 4 a step could not be carried out; 130 interrupted (SIGINT, SIGTERM).\n\nExamples:\n  ftcp scenario run scenarios/failover.yaml\n  ftcp scenario run scenarios/failover.yaml --client kernel')
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
  if (flags.captureDir.trim() === '') throw new UsageError('--capture-dir must not be empty');
  if (flags.heartbeatMs !== undefined) s.heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  if (flags.failureTimeoutMs !== undefined) s.failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (s.failureTimeoutMs <= s.heartbeatMs) throw new UsageError(`the failure timeout (${s.failureTimeoutMs} ms) must be longer than the heartbeat (${s.heartbeatMs} ms)`);
  applyKernelFlags(s, flags);
  // client kernel first makes a network namespace and runs this again inside it.
  if (s.client === 'kernel' && flags.netnsInner === undefined) {
    const args = (ns: string) => [
      'scenario', 'run', file, '--capture-dir', flags.captureDir,
      '--heartbeat-ms', String(s.heartbeatMs), '--failure-timeout-ms', String(s.failureTimeoutMs),
      '--client', 'kernel', '--kernel-tool', s.kernelTool, '--tun-mtu', String(s.tunMtu), '--netns-inner', ns,
      ...(flags.json === true ? ['--json'] : []),
    ];
    return runInNetns({ command: 'ftcp scenario run --client kernel', args, json: flags.json === true }, io);
  }
  const stamp = new Date(io.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const dir = join(flags.captureDir, `scenario-${basename(file).replace(/\.(ya?ml|json)$/, '')}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const json = flags.json === true;
  if (!json) io.stdout(`scenario ${s.name} (${file}): app ${s.app}, seed ${s.seed}, heartbeat ${s.heartbeatMs} ms, failure timeout ${s.failureTimeoutMs} ms${s.unsafeNoOutputRule ? ', UNSAFE: no output rule' : ''}\n`);
  if (!json && flags.netnsInner !== undefined) io.stdout(`  the clients are the Linux kernel's (${s.kernelTool}), in network namespace ${flags.netnsInner} (TUN device ${TUN_DEVICE} at ${KERNEL_ADDRESS}/24, mtu ${s.tunMtu})\n`);
  const kernel = flags.netnsInner !== undefined ? scenarioKernel(s, flags.netnsInner) : undefined;
  // SIGINT/SIGTERM: the children are stopped and the result printed (130), not cut off.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result;
  try {
    result = await runScenario(
      s,
      dir,
      (ms, text) => {
        if (!json) io.stdout(`  ${`+${ms} ms`.padStart(10)}  ${text}\n`);
      },
      kernel,
      interrupt.signal,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (json) {
    io.stdout(`${JSON.stringify(result)}\n`);
  } else {
    const failed = result.checks.filter((c) => !c.ok);
    io.stdout(`result: ${result.ok ? 'ok' : 'FAILED'}: ${result.checks.length - failed.length} of ${result.checks.length} expectation(s) held\n`);
    for (const c of failed) io.stdout(`  step ${c.step}: expected ${c.check}, but ${c.detail}\n`);
    if (result.error !== undefined) io.stdout(`  error: ${result.error}\n`);
    if (result.kernel !== undefined) io.stdout(`${describeKernel(result.kernel as unknown as KernelReport).join('\n')}\n`);
    io.stdout(`captures and event logs: ${dir}/\n`);
  }
  if (interrupt.signal.aborted) return 130;
  if (result.error !== undefined) return EXIT.connection;
  return result.ok ? EXIT.ok : EXIT.correctness;
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

/** The kernel side inside the namespace: socat's TUN bridge, tcpdump, nstat, and `ftcp kernel-client`. */
function scenarioKernel(s: Scenario, netns: string): ScenarioKernel {
  let side: KernelSide | undefined;
  return {
    switchArgs: kernelSwitchArgs(),
    async start(switchPort, dir) {
      side = await KernelSide.start({ netns, switchPort, mtu: s.tunMtu, dir });
      return `socat bridges TUN device ${TUN_DEVICE} (${KERNEL_ADDRESS}/24, mtu ${s.tunMtu}, pid ${side.bridge.pid}) to the switch${side.tcpdump !== undefined ? `; tcpdump on it (pid ${side.tcpdump.pid})` : ''}`;
    },
    startClient(children, args) {
      if (side === undefined) throw new ScenarioError('the load started before the network (start: network)');
      return startKernelClient(children, { app: s.app, seed: s.seed, bulkBytes: s.bulkBytes, tool: s.kernelTool }, args);
    },
    async stop() {
      const report = side === undefined ? { netns, device: TUN_DEVICE, address: KERNEL_ADDRESS, mtu: s.tunMtu, nstat: { before: null, after: null, delta: null }, tcpdump: null, resets: null, notes: ['the TUN bridge was never started'] } : await side.stop();
      return report as unknown as Awaited<ReturnType<ScenarioKernel['stop']>>;
    },
  };
}
