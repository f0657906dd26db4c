/**
 * `ftcp sim ...`: runs of the deterministic simulator.
 *
 *   ftcp sim transfer --bytes N --seed S [--loss P --dup P --reorder P --corrupt P]
 *                     [--delay-ms D] [--capture DIR] [--json] [--progress]
 *   ftcp sim sweep [--seeds N] [--first-seed S] [--jobs J] [--json]   (sim-sweep.ts)
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatUs, msToUs } from '../sim/clock.js';
import { defaultStackFactory } from '../sim/default-stack.js';
import { runTransfer, transferCommandLine, type TransferOptions, type TransferResult } from '../sim/transfer.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { registerSweepCommand } from './sim-sweep.js';
import { checkOutputDir, parseByteCount, parseMilliseconds, parseProbability, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

interface TransferFlags {
  bytes: string;
  seed?: string;
  loss: string;
  dup: string;
  reorder: string;
  corrupt: string;
  delayMs: string;
  capture?: string;
  json?: boolean;
  progress?: boolean;
}

export function registerSimCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const sim = program
    .command('sim')
    .description('deterministic simulations: in-memory network, virtual time, one seed reproduces a run');

  sim
    .command('transfer')
    .summary('bulk transfer both ways over one connection, checked by SHA-256')
    .description(
      'Two stacks (client 192.0.2.1, server 192.0.2.10) move --bytes each way over one connection at the same ' +
        'time, through a simulated network with seeded faults. Both sides shut down after sending and read to ' +
        'EOF; the bytes are checked end to end by SHA-256.',
    )
    .option('--bytes <n>', 'bytes to send in each direction; units K, M, G (1000s) or KiB, MiB, GiB allowed', '1000000')
    .option('--seed <s>', 'run seed, 0..4294967295: fixes every random choice (default: from the wall clock, printed)')
    .option('--loss <p>', 'probability that a packet is lost, per link direction', '0')
    .option('--dup <p>', 'probability that a packet is delivered twice', '0')
    .option('--reorder <p>', 'probability that a packet is held back (20 ms) so later ones overtake it', '0')
    .option('--corrupt <p>', 'probability that one bit of a packet is flipped (the receiver must drop it)', '0')
    .option('--delay-ms <ms>', 'one-way delay of each link, in milliseconds (1 µs resolution)', '10')
    .option('--capture <dir>', 'write pcapng captures to <dir>/transfer-seed<S>/{client,server}.pcapng')
    .option('--json', 'print exactly one JSON object with the result on stdout')
    .option('--progress', 'show progress on stderr even when it is not a terminal (shown on a terminal by default)')
    .addHelpText(
      'after',
      helpAfter('\nCaptures record each host\'s egress before network faults and its ingress after them (corrupted\n' +
        'copies omitted; the sender\'s copy carries a comment). Timestamps are virtual: a seed gives\n' +
        'byte-identical files.\n\n' +
        'Exit codes: 0 ok; 1 bytes differ; 2 bad usage; 3 no progress (liveness); 4 connection failed;\n' +
        '5 the stack threw.\n\n' +
        'Example:\n  ftcp sim transfer --bytes 10M --seed 7 --loss 0.05 --dup 0.02 --reorder 0.05 --corrupt 0.01 --capture captures')
    )
    .action((flags: TransferFlags) => {
      setExitCode(simTransfer(flags, io));
    });
  registerSweepCommand(sim, io, setExitCode);
}

function transferOptions(flags: TransferFlags, io: CliIo): { options: Omit<TransferOptions, 'stackFactory'>; seedFromClock: boolean } {
  const seedFromClock = flags.seed === undefined;
  // The only place a run's seed comes from the wall clock; it is printed so the run can be repeated.
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  return {
    seedFromClock,
    options: {
      seed,
      bytes: parseByteCount('--bytes', flags.bytes),
      loss: parseProbability('--loss', flags.loss),
      duplicate: parseProbability('--dup', flags.dup),
      reorder: parseProbability('--reorder', flags.reorder),
      corrupt: parseProbability('--corrupt', flags.corrupt),
      delayUs: msToUs(parseMilliseconds('--delay-ms', flags.delayMs, 60_000)),
    },
  };
}

/** Runs `sim transfer` and returns the exit code. */
export function simTransfer(flags: TransferFlags, io: CliIo): number {
  const { options, seedFromClock } = transferOptions(flags, io);
  const command = transferCommandLine(options);
  const json = flags.json === true;
  if (flags.capture !== undefined) checkOutputDir('--capture', flags.capture); // before the first line of output
  const startLine = `sim transfer: seed ${options.seed}${seedFromClock ? ' (from the wall clock)' : ''}; reproduce with: ${command}\n`;
  if (json) io.stderr(startLine);
  else io.stdout(startLine);

  const captureFiles: string[] = [];
  const fds: number[] = [];
  let capture: TransferOptions['capture'] = 'none';
  if (flags.capture !== undefined) {
    checkOutputDir('--capture', flags.capture);
    const dir = join(flags.capture, `transfer-seed${options.seed}`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new UsageError(`--capture: cannot create ${dir}: ${error instanceof Error ? error.message : String(error)}`);
    }
    capture = (name) => {
      const path = join(dir, `${name}.pcapng`);
      const fd = openSync(path, 'w');
      fds.push(fd);
      captureFiles.push(path);
      // One synchronous write per complete block: a killed run leaves a readable prefix.
      return (block) => void writeSync(fd, block);
    };
  }

  const progress = makeProgress(io, flags.progress === true);
  let result: TransferResult;
  try {
    result = runTransfer({ ...options, stackFactory: defaultStackFactory, capture, ...(progress ? { onProgress: progress.update } : {}) });
  } finally {
    progress?.finish();
    for (const fd of fds) closeSync(fd);
  }

  if (json) io.stdout(`${JSON.stringify(jsonResult(result, command, captureFiles))}\n`);
  else io.stdout(humanResult(result, command, captureFiles));
  return result.ok ? EXIT.ok : EXIT[result.failure?.kind === 'determinism' ? 'correctness' : (result.failure?.kind ?? 'correctness')];
}

function makeProgress(io: CliIo, forced: boolean): { update: TransferOptions['onProgress'] & object; finish: () => void } | undefined {
  if (!io.stderrIsTty && !forced) return undefined;
  let lastMs = io.nowMs();
  let shown = false;
  return {
    update: ({ nowUs, receivedBytes, totalBytes }) => {
      const wallMs = io.nowMs();
      if (wallMs - lastMs < 1000) return;
      lastMs = wallMs;
      const percent = totalBytes === 0 ? 100 : Math.floor((100 * receivedBytes) / totalBytes);
      const line = `sim transfer: ${percent}% (${receivedBytes} of ${totalBytes} bytes received, ${formatUs(nowUs)} virtual)`;
      io.stderr(io.stderrIsTty ? `\r\x1b[K${line}` : `${line}\n`);
      shown = true;
    },
    finish: () => {
      if (shown && io.stderrIsTty) io.stderr('\r\x1b[K');
    },
  };
}

function jsonResult(r: TransferResult, command: string, captures: string[]): object {
  return {
    ok: r.ok,
    ...(r.failure ? { failure: r.failure } : {}),
    seed: r.seed,
    bytes: r.bytes,
    clientToServer: r.clientToServer,
    serverToClient: r.serverToClient,
    durationUs: r.durationUs,
    endUs: r.endUs,
    events: r.events,
    retransmits: r.retransmits,
    faults: r.faults,
    stats: r.stats,
    captures,
    command,
  };
}

function humanResult(r: TransferResult, command: string, captures: string[]): string {
  const lines: string[] = [];
  const status = r.ok ? 'ok' : `FAILED (${r.failure?.kind ?? 'unknown'})`;
  lines.push(`${status}: ${r.bytes} bytes each way in ${formatUs(r.durationUs)} virtual, ${r.retransmits} retransmits, seed ${r.seed}`);
  for (const [label, d] of [['client->server', r.clientToServer], ['server->client', r.serverToClient]] as const) {
    const sha = d.match ? `sha256 match ${d.sha256Sent}` : `sha256 MISMATCH sent ${d.sha256Sent} received ${d.sha256Received}`;
    lines.push(`  ${label}: sent ${d.bytesSent} B, received ${d.bytesReceived} B, ${sha}`);
  }
  const f = r.faults;
  lines.push(`  network: ${f.sent} packets, lost ${f.lost}, duplicated ${f.duplicated}, reordered ${f.reordered}, corrupted ${f.corrupted}`);
  if (captures.length > 0) lines.push(`  captures: ${captures.join(', ')}`);
  if (!r.ok) {
    lines.push(`  ${(r.failure?.message ?? '').split('\n').join('\n  ')}`);
    lines.push(`  reproduce: ${command}`);
  }
  return `${lines.join('\n')}\n`;
}
