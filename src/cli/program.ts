/**
 * The `ftcp` command tree. Each command group lives in its own file (sim.ts, later demo,
 * replica, ...) and registers itself here. `runCli` is the whole CLI as a function of
 * (argv, io) -> exit code, so tests run it in-process.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { layingOutBoxWrap } from './help-layout.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { registerArbiterCommand } from './arbiter.js';
import { registerBenchCommand } from './bench.js';
import { registerConformanceCommand } from './conformance.js';
import { registerDemoCommands } from './demo.js';
import { registerReplayCommand } from './replay.js';
import { registerKernelClientCommand, registerKernelServerCommand } from './kernel-client.js';
import { registerSimCommands } from './sim.js';
import { registerSwitchCommand } from './switch.js';
import { registerReplicaCommand } from './replica.js';
import { registerServeCommand } from './serve.js';
import { registerClientCommand } from './client.js';
import { registerScenarioCommands } from './scenario.js';
import { registerFuzzCommand } from './fuzz.js';
import { registerChaosCommand } from './chaos.js';
import { registerSoakCommand } from './soak.js';
import { registerReportCommand } from './report.js';
import { configureGroupErrors } from './group-commands.js';
import { registerExperimentCommands } from './experiment.js';
import { registerSwitchoverCommand } from './switchover.js';
/** package.json sits two levels up from both src/cli and dist/cli. */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('ftcp')
    .description('fault-tolerant TCP: primary/backup replication of a userspace TCP/IPv4 stack')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerSimCommands(program, io, setExitCode);
  registerDemoCommands(program, io, setExitCode);
  registerConformanceCommand(program, io, setExitCode);
  registerBenchCommand(program, io, setExitCode);
  registerSwitchCommand(program, io, setExitCode);
  registerArbiterCommand(program, io, setExitCode);
  registerReplicaCommand(program, io, setExitCode);
  registerSwitchoverCommand(program, io, setExitCode); // planned switchover of a running pair
  registerServeCommand(program, io, setExitCode); // a replica as a service from a config file
  registerClientCommand(program, io, setExitCode);
  registerScenarioCommands(program, io, setExitCode);
  registerReplayCommand(program, io, setExitCode);
  registerReportCommand(program, io, setExitCode);
  registerKernelClientCommand(program, io, setExitCode); // the kernel as the client
  registerKernelServerCommand(program, io, setExitCode); // the kernel as the server
  registerFuzzCommand(program, io, setExitCode); // a packet fuzzer against a live pair
  registerChaosCommand(program, io, setExitCode); // the fault campaign with real processes
  registerSoakCommand(program, io, setExitCode); // faults for a long time, redundancy restored after each
  registerExperimentCommands(program, io, setExitCode); // measured answers in the simulator: output modes, state transfer
  // Subcommands inherit output and exit handling only when set before they are created.
  for (const command of allCommands(program)) command.configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).exitOverride();
  configureGroupErrors(program, allCommands(program), io.stderr); // a group without a subcommand, a typo's suggestion: one line
  showDefaultsUnquoted(program);
  for (const command of [program, ...allCommands(program)]) command.configureHelp({ boxWrap: layingOutBoxWrap, minWidthToWrap: 24 });
  return program;
}

/** Help shows `(default: captures)`, not commander's JSON `(default: "captures")`. */
function showDefaultsUnquoted(program: Command): void {
  for (const command of [program, ...allCommands(program)]) {
    for (const o of command.options) if (typeof o.defaultValue === 'string' && o.defaultValueDescription === undefined) o.defaultValueDescription = o.defaultValue;
  }
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Run the CLI with `argv` (arguments only, without node and the script). Returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof CommanderError) {
      // Help and version are "errors" that exit 0; anything else commander rejects is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
}
