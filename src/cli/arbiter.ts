/**
 * `ftcp arbiter`: the embedded test-and-set server (src/net/arbiter-server.ts) as a process.
 *
 *   ftcp arbiter [--listen HOST:PORT] [--state FILE] [--init] [--cluster-key-file PATH] [--json]
 *
 * Prints one line when it listens (with the port actually bound), one per decision, and
 * its statistics when SIGTERM or SIGINT stops it.
 */
import type { Command } from 'commander';
import { ArbiterServer, type ArbiterServerEvent, type ArbiterServerStats } from '../net/arbiter-server.js';
import { ArbiterStateError, type ArbiterState } from '../net/arbiter-state.js';
import { formatEndpoint } from '../net/endpoint.js';
import { waitForStopSignal } from '../net/signals.js';
import { LinkError } from '../net/udp-link.js';
import { addClusterKeyOption, addInsecureOption, CLUSTER_KEY_HELP, clusterKeyFromFlag, warnNoClusterKey } from './cluster-key-flag.js';
import { EXIT, type CliIo } from './io.js';
import { parseEndpointFlag } from './net-flags.js';
import { addNiceOption, parseNice } from './nice-flag.js';
import { raiseOwnPriority } from '../net/priority.js';
import { helpAfter } from './help-layout.js';

export const DEFAULT_ARBITER_LISTEN = '127.0.0.1:9401';
export const DEFAULT_ARBITER_STATE = 'ftcp-arbiter-state.json';

interface ArbiterFlags {
  listen: string;
  state: string;
  init?: boolean;
  json?: boolean;
  clusterKeyFile?: string;
  insecure?: boolean;
  nice: string;
}

export function registerArbiterCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const command = program
    .command('arbiter')
    .summary('the test-and-set server that decides, per epoch, which replica may be primary')
    .description(
      'Answers test-and-set requests per (service, epoch) over TCP: the first replica to ask for an epoch wins ' +
        'it, and everyone who asks after is told who won. Every flag is appended to the state file and fdatasync\'ed ' +
        'before the answer is sent, so a restarted arbiter never grants an epoch twice. Runs until SIGTERM or ' +
        'SIGINT, then prints its statistics.',
    )
    .option('--listen <host:port>', 'TCP address to listen on (port 0 picks a free one, printed at start)', DEFAULT_ARBITER_LISTEN)
    .option('--state <file>', 'the state file holding every flag granted; it must exist unless --init is given', DEFAULT_ARBITER_STATE)
    .option('--init', 'create a fresh, empty state file (and its directory); refused if the file exists (default: off)')
    .option('--json', 'print one JSON object per line (listening, each decision, stopped with statistics)');
  addNiceOption(addInsecureOption(addClusterKeyOption(command)))
    .addHelpText(
      'after',
      helpAfter('\nThe state file is never reset silently. A missing file is an error unless --init is given (use it\n' +
        'once, for a new arbiter); --init over an existing file is an error; a file that fails to parse or\n' +
        'fails its CRC is refused with what is wrong. A restarted arbiter is started without --init.\n\n' +
        'Exit codes: 0 stopped by SIGTERM/SIGINT; 1 the state file is corrupt or cannot be written;\n' +
        '2 bad usage (flags, missing state file without --init, --init over an existing file, an unusable\n' +
        'cluster key); 4 cannot listen (port in use, address not local).\n' +
        CLUSTER_KEY_HELP +
        '\n' +
        'Examples:\n  ftcp arbiter --state run1/arbiter.json --init      # the first start\n' +
        '  ftcp arbiter --state run1/arbiter.json             # every restart')
    )
    .action(async (flags: ArbiterFlags) => {
      setExitCode(await runArbiter(flags, io));
    });
}

async function runArbiter(flags: ArbiterFlags, io: CliIo): Promise<number> {
  const listen = parseEndpointFlag('--listen', flags.listen);
  const nice = parseNice(flags.nice);
  if (nice !== undefined) raiseOwnPriority('arbiter', nice, (line) => io.stderr(line));
  const json = flags.json === true;
  const clusterKey = clusterKeyFromFlag(flags.clusterKeyFile, { insecure: flags.insecure, carries: 'the arbiter protocol', addresses: [['--listen', listen]] });
  const out = (human: string, obj: object) => io.stdout(json ? `${JSON.stringify(obj)}\n` : `${human}\n`);

  let server: ArbiterServer;
  try {
    server = await ArbiterServer.start({ listen, statePath: flags.state, init: flags.init === true, clusterKey });
  } catch (error) {
    if (error instanceof ArbiterStateError) {
      io.stderr(`error: ftcp arbiter: ${error.message}\n`);
      return error.code === 'ARBITER_STATE_CORRUPT' || error.code === 'ARBITER_STATE_IO' ? EXIT.correctness : EXIT.usage;
    }
    if (error instanceof LinkError) {
      io.stderr(`error: ftcp arbiter: ${error.message}\n`);
      return EXIT.connection;
    }
    throw error;
  }
  if (clusterKey === undefined) warnNoClusterKey(io, 'ftcp arbiter', 'the arbiter');
  const stop = waitForStopSignal();
  const startedMs = io.nowMs();
  const flagsHeld = server.flags();
  out(`ftcp arbiter: listening on ${formatEndpoint(server.local)}, state ${flags.state} (${flagsHeld.length} flag${flagsHeld.length === 1 ? '' : 's'}${flags.init === true ? ', new' : ''})${describeCompaction(server.state)}, ${clusterKey === undefined ? 'no cluster key' : `cluster key ${clusterKey.id}`}`, {
    event: 'listening',
    address: server.local.host,
    port: server.local.port,
    state: flags.state,
    flags: flagsHeld,
    tornBytes: server.state.tornBytes,
    compacted: server.state.compacted,
    clusterKey: clusterKey?.toJSON() ?? null,
  });
  let fatal: string | undefined;
  server.onEvent((e) => {
    if (e.type === 'fatal') {
      fatal = e.message;
      io.stderr(`error: ftcp arbiter: ${e.message}\n`);
      stop.stop('fatal');
      return;
    }
    // A peer hammering with a bad key: the first refusal of each reason, then every 100th.
    if (e.type === 'refused' && server.stats.refused[e.reason] !== 1 && server.stats.refused[e.reason] % 100 !== 0) return;
    out(describeEvent(e), { event: e.type, ...e, type: undefined });
  });

  const reason = await stop.stopped;
  stop.dispose();
  await server.close();
  const seconds = (io.nowMs() - startedMs) / 1000;
  out(describeStats(server.stats, reason, seconds), { event: 'stopped', reason, seconds, stats: server.stats });
  return fatal === undefined ? EXIT.ok : EXIT.correctness;
}

function describeEvent(e: Exclude<ArbiterServerEvent, { type: 'fatal' }>): string {
  switch (e.type) {
    case 'granted':
      return `granted epoch ${e.epoch} of ${e.service} to ${e.winner} (persisted in ${(e.persistUs / 1000).toFixed(1)} ms; from ${e.peer})`;
    case 'answered':
      return e.asker === e.winner
        ? `answered epoch ${e.epoch} of ${e.service} to ${e.asker} again: won`
        : `answered epoch ${e.epoch} of ${e.service} to ${e.asker}: lost, won by ${e.winner}`;
    case 'malformed':
      return `malformed frame from ${e.peer} (${e.reason}); connection closed`;
    case 'refused':
      return e.message;
  }
}

function describeStats(s: ArbiterServerStats, reason: string, seconds: number): string {
  return [
    `ftcp arbiter: stopped by ${reason} after ${seconds.toFixed(1)} s`,
    `  requests ${s.requests}: granted ${s.granted}, lost ${s.lost}, repeats ${s.repeats}; slowest persist ${(s.maxPersistUs / 1000).toFixed(1)} ms`,
    `  connections ${s.connections} (refused ${s.connectionsRefused}), malformed frames ${s.malformedFrames}, truncated ${s.truncatedFrames}`,
    `  refused by the cluster key: ${Object.entries(s.refused).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`,
  ].join('\n');
}

/** What the start-up compaction of the state file did, for the `listening` line ('' when nothing). */
function describeCompaction(state: ArbiterState): string {
  if (state.tornBytes > 0) return `, its torn last line (${state.tornBytes} B of a grant never answered) dropped`;
  return state.compacted ? ', converted to the append-only format' : '';
}
