/**
 * Planned switchover from the command line:
 *
 *   ftcp switchover --control PATH     asks the primary listening on PATH (its
 *                                      `ftcp replica --control PATH`) to hand the service
 *                                      to its backup, and waits until the backup is live
 *
 * and the replica's side of it: its control socket (--control) and what SIGTERM does to a
 * primary with a backup (src/net/switchover.ts).
 */
import { dirname } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { ReplicaProcess } from '../net/replica-host.js';
import { CONTROL_COMMAND_STATS, CONTROL_COMMAND_SWITCHOVER, ControlServer, MAX_SOCKET_PATH_BYTES, sendControl, type ControlReply } from '../net/switchover.js';
import { LinkError } from '../net/udp-link.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parseMilliseconds } from './validate.js';
import { helpAfter } from './help-layout.js';

export const CONTROL_OPTION_HELP =
  'a Unix socket on which `ftcp switchover --control PATH` asks this replica, when it is the primary, to hand the service to its backup; a line `stats` on it is answered with the replica\'s statistics as one JSON line (mode 0600; default: none)';

/** --control PATH of `ftcp replica` and `ftcp switchover`: a usable socket path (UsageError when not). */
export function parseControlPath(text: string, forListening: boolean): string {
  if (text.trim() === '') throw new UsageError('--control must name a socket path');
  if (Buffer.byteLength(text) > MAX_SOCKET_PATH_BYTES) throw new UsageError(`--control must be at most ${MAX_SOCKET_PATH_BYTES} bytes long (a Unix socket path), got ${Buffer.byteLength(text)}: use a shorter path`);
  if (forListening) {
    const dir = dirname(text);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--control ${text}: the directory ${dir} does not exist`);
    if (existsSync(text) && !statSync(text).isSocket()) throw new UsageError(`--control ${text}: a file that is not a socket is there; pick another path`);
  } else if (existsSync(text) && !statSync(text).isSocket()) {
    throw new UsageError(`--control ${text} is not a socket: give the path of the replica's --control`);
  }
  return text;
}

/**
 * Opens a replica's control socket before the replica starts (a bad path fails first);
 * `proc()` is the replica once it runs. Rejects with a one-line LinkError.
 */
export function openReplicaControl(path: string, proc: () => ReplicaProcess | undefined): Promise<ControlServer> {
  return ControlServer.listen(path, (command) => answerControl(command, proc()));
}

async function* answerControl(command: string, proc: ReplicaProcess | undefined): AsyncIterable<ControlReply> {
  if (command !== CONTROL_COMMAND_SWITCHOVER && command !== CONTROL_COMMAND_STATS) {
    yield { ok: false, stage: 'refused', message: `unknown control command ${JSON.stringify(command.slice(0, 40))}; this socket takes: ${CONTROL_COMMAND_SWITCHOVER}, ${CONTROL_COMMAND_STATS}` };
    return;
  }
  if (proc === undefined) {
    yield { ok: false, stage: 'refused', message: 'the replica is still starting' };
    return;
  }
  if (command === CONTROL_COMMAND_STATS) {
    yield { ok: true, stage: 'stats', message: `replica ${proc.opts.name}: statistics`, stats: proc.stats() };
    return;
  }
  const h = proc.handOver('ftcp switchover');
  if ('refused' in h) {
    yield { ok: false, stage: 'refused', message: h.refused };
    return;
  }
  yield { ok: true, stage: 'handing-over', message: `replica ${proc.opts.name} stops taking input and hands over to ${proc.replica?.peer ?? 'its backup'}` };
  const o = await h.done;
  yield { ok: o.ok, stage: o.ok ? 'done' : 'failed', message: o.message };
}

/**
 * SIGTERM of a replica: a primary with a backup hands over first and stops once the backup
 * is live ('handed-over'); anything else stops at once ('SIGTERM'), saying so. The wait is
 * bounded: a handover that has not ended after 5 D + 2 s stops too (the old primary emits
 * nothing after handing over, so stopping then is safe).
 */
export async function handOverOnSigterm(proc: ReplicaProcess, failureTimeoutMs: number, signalAtMs?: number): Promise<string> {
  // A backup or a joiner has nothing to hand over; a primary says why it cannot.
  if (proc.replica?.live !== true && !(proc.replica === undefined && proc.opts.role === 'primary')) return 'SIGTERM';
  const h = proc.handOver('SIGTERM', signalAtMs);
  if ('refused' in h) return 'SIGTERM';
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<{ ok: false; message: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, message: 'the handover did not end in time' }), 5 * failureTimeoutMs + 2000);
  });
  const o = await Promise.race([h.done, bound]);
  clearTimeout(timer);
  return o.ok ? 'handed-over' : 'SIGTERM';
}

interface SwitchoverFlags {
  control?: string;
  timeoutMs: string;
  json?: boolean;
}

export function registerSwitchoverCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('switchover')
    .summary('hand the service from a running primary to its backup, at once (planned maintenance)')
    .description(
      'Asks the primary that listens on --control (started with `ftcp replica --control PATH`) to hand the ' +
        'service to its backup now, instead of after the failure timeout: the primary stops taking input and ' +
        'releases nothing more, the backup applies the log to its end, wins the next epoch at the arbiter and goes ' +
        'live, announcing the service address; clients see a pause of milliseconds, no reset. The old primary then ' +
        'exits 0. SIGTERM of a primary that has a backup does the same (SIGINT stops it at once).',
    )
    .option('--control <path>', 'the primary\'s control socket (its --control)')
    .option('--timeout-ms <ms>', 'how long to wait for the handover to end', '10000')
    .option('--json', 'print each answer of the replica as a JSON object per line')
    .addHelpText(
      'after',
      helpAfter('\nExit codes: 0 the backup is live and the old primary exits; 1 the handover failed (the backup fell\n' +
        'silent; the primary serves on alone); 2 bad usage, or the replica is not a primary with a backup\n' +
        '(a backup, a lone primary, one already handing over: the line says which); 3 no answer in time;\n' +
        '4 no replica listens on the socket.\n\n' +
        'Example (a pair started with --control /run/ftcp/a.sock and /run/ftcp/b.sock):\n' +
        '  ftcp switchover --control /run/ftcp/a.sock')
    )
    .action(async (flags: SwitchoverFlags) => {
      setExitCode(await runSwitchover(flags, io));
    });
}

async function runSwitchover(flags: SwitchoverFlags, io: CliIo): Promise<number> {
  if (flags.control === undefined) throw new UsageError('--control PATH is required: the control socket of the primary (its ftcp replica --control)');
  const path = parseControlPath(flags.control, false);
  const timeoutMs = parseMilliseconds('--timeout-ms', flags.timeoutMs, 600_000);
  const print = (r: ControlReply) => (flags.json === true ? io.stdout(`${JSON.stringify(r)}\n`) : r.ok ? io.stdout(`${r.message}\n`) : undefined);
  const result = await sendControl(path, CONTROL_COMMAND_SWITCHOVER, timeoutMs, print);
  if (!result.connected) {
    io.stderr(`error: ftcp switchover: ${result.message}\n`);
    return EXIT.connection;
  }
  const last = result.replies.at(-1);
  if (last === undefined || (!result.ended && last.stage === 'handing-over')) {
    io.stderr(`error: ftcp switchover: no answer from ${path} within ${timeoutMs} ms${last !== undefined ? ' (the handover started and has not ended)' : ''}\n`);
    return EXIT.liveness;
  }
  if (last.stage === 'done') return EXIT.ok;
  io.stderr(`error: ftcp switchover: ${last.message}\n`);
  if (last.stage === 'refused') return EXIT.usage;
  if (last.stage === 'handing-over') return EXIT.liveness; // the replica ended the answer early (it stopped)
  return EXIT.correctness;
}

/** For a LinkError from openReplicaControl: the line and the exit code of `ftcp replica`. */
export function controlOpenError(error: unknown, name: string, io: CliIo): number {
  if (!(error instanceof LinkError)) throw error;
  io.stderr(`error: ftcp replica ${name}: ${error.message}\n`);
  return EXIT.connection;
}
