/**
 * `ftcp serve --config FILE`: one replica as a long-running service. The config (YAML,
 * src/net/serve-config.ts) is validated whole before anything starts; then a supervisor
 * (src/net/serve.ts) runs the replica host and restarts it as a backup whenever a run
 * ends, so that redundancy restores itself. SIGTERM or SIGINT stops it, exit 0.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { warmUp } from '../lab/warm-up.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../net/endpoint.js';
import { parseServeConfig, ServeConfigError } from '../net/serve-config.js';
import { raiseOwnPriority } from '../net/priority.js';
import { ServeSupervisor } from '../net/serve.js';
import { waitForStopSignal } from '../net/signals.js';
import { clusterKeyFromFlag, warnNoClusterKey } from './cluster-key-flag.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { helpAfter } from './help-layout.js';

interface ServeFlags {
  config?: string;
  metricsListen?: string;
  check?: boolean;
}

export function registerServeCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('serve')
    .summary('run one replica as a service from a config file; it picks its role and rejoins by itself')
    .description(
      'Runs one replica of the replicated service from a YAML config file (see docs/deploy.md and docs/examples/ftcp.yaml). ' +
        'The whole file is checked before anything starts. The replica picks its role by itself: if a configured peer\'s ' +
        'log channel answers, it joins that peer as a backup; otherwise the arbiter decides: the one replica that wins ' +
        'the start of epoch 1 serves as the first primary, every other one joins it as a backup. When a run ends ' +
        '(fenced, lost the test-and-set, or its peer was unreachable) it starts again as a backup after a backoff.',
    )
    .option('--config <file>', 'the YAML config file (required)')
    .option('--metrics-listen <host:port>', 'serve Prometheus text metrics over HTTP at /metrics (default: off)')
    .option('--check', 'only validate the config file, print "ok" and exit')
    .addHelpText('after', helpAfter('\nExit codes: 0 stopped by SIGTERM/SIGINT (or --check passed); 2 bad config or usage; 4 cannot listen for metrics.\n\nExample:\n  ftcp serve --config /etc/ftcp/ftcp.yaml --metrics-listen 127.0.0.1:9464'))
    .action(async (flags: ServeFlags) => {
      setExitCode(await runServe(flags, io));
    });
}

async function runServe(flags: ServeFlags, io: CliIo): Promise<number> {
  if (flags.config === undefined) throw new UsageError('--config FILE is required (see docs/examples/ftcp.yaml)');
  let text: string;
  try {
    text = readFileSync(flags.config, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${flags.config}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let metricsAt: Endpoint | undefined;
  if (flags.metricsListen !== undefined) {
    try {
      metricsAt = parseEndpoint(flags.metricsListen);
    } catch (error) {
      throw new UsageError(`--metrics-listen: ${(error as Error).message}`);
    }
  }
  let config;
  try {
    config = parseServeConfig(text, flags.config);
  } catch (error) {
    if (error instanceof ServeConfigError) throw new UsageError(error.message);
    throw error;
  }
  const clusterKey = clusterKeyFromFlag(config.clusterKeyFile);
  if (flags.check === true) {
    io.stdout(`ok: ${flags.config}: replica ${config.name}, service ${config.service.port}, ${config.peers.length} peer(s)\n`);
    return EXIT.ok;
  }
  const sup = new ServeSupervisor(config, {
    emit: (e) => io.stdout(`${JSON.stringify(e)}\n`),
    extend: (o) => {
      o.warmUp = warmUp;
      if (clusterKey !== undefined) o.clusterKey = clusterKey;
    },
    nowMs: () => io.nowMs(),
  });
  if (metricsAt !== undefined) {
    try {
      const at = await sup.listenMetrics(metricsAt);
      io.stdout(`${JSON.stringify({ event: 'metrics', name: config.name, listen: formatEndpoint(at) })}\n`);
    } catch (error) {
      io.stderr(`error: ftcp serve ${config.name}: cannot listen for metrics on ${flags.metricsListen}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      return EXIT.connection;
    }
  }
  if (clusterKey === undefined) warnNoClusterKey(io, `ftcp serve ${config.name}`, 'its log channel');
  if (config.nice !== 0) raiseOwnPriority(`ftcp serve ${config.name}`, config.nice, (line) => io.stderr(line));
  const stop = waitForStopSignal();
  const running = sup.run();
  const reason = await stop.stopped;
  stop.dispose();
  await sup.stop();
  await running;
  io.stdout(`${JSON.stringify({ event: 'exit', name: config.name, atMs: io.nowMs(), reason, stats: sup.stats() })}\n`);
  return EXIT.ok;
}
