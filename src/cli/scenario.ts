/**
 * `ftcp scenario run FILE`: a scripted failover demo with real processes (src/node/scenario.ts).
 *
 * Prints the timeline as it happens and each expectation's verdict; exits 1 when one fails
 * (saying which), 2 when the file is not a valid scenario, 4 when a step could not be
 * carried out (a child that did not start, a wait that timed out).
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { loadScenario, runScenario, ScenarioError } from '../node/scenario.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parsePositiveMs } from './replica.js';

interface RunFlags {
  captureDir: string;
  heartbeatMs?: string;
  failureTimeoutMs?: string;
  json?: boolean;
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
    .addHelpText('after', '\nExit codes: 0 every expectation held; 1 one failed; 2 the file is not a valid scenario; 4 a step\ncould not be carried out.\n\nExample:\n  ftcp scenario run scenarios/failover.yaml')
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
  const stamp = new Date(io.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const dir = join(flags.captureDir, `scenario-${basename(file).replace(/\.(ya?ml|json)$/, '')}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const json = flags.json === true;
  if (!json) io.stdout(`scenario ${s.name} (${file}): app ${s.app}, seed ${s.seed}, heartbeat ${s.heartbeatMs} ms, failure timeout ${s.failureTimeoutMs} ms${s.unsafeNoOutputRule ? ', UNSAFE: no output rule' : ''}\n`);
  const result = await runScenario(s, dir, (ms, text) => {
    if (!json) io.stdout(`  ${`+${ms} ms`.padStart(10)}  ${text}\n`);
  });
  if (json) {
    io.stdout(`${JSON.stringify(result)}\n`);
  } else {
    const failed = result.checks.filter((c) => !c.ok);
    io.stdout(`result: ${result.ok ? 'ok' : 'FAILED'}: ${result.checks.length - failed.length} of ${result.checks.length} expectation(s) held\n`);
    for (const c of failed) io.stdout(`  step ${c.step}: expected ${c.check}, but ${c.detail}\n`);
    if (result.error !== undefined) io.stdout(`  error: ${result.error}\n`);
    io.stdout(`captures and event logs: ${dir}/\n`);
  }
  if (result.error !== undefined) return EXIT.connection;
  return result.ok ? EXIT.ok : EXIT.correctness;
}
