/**
 * `ftcp replay LOG`: the flight recorder. Reads a capture of the log channel,
 * replays its entries offline through a fresh RSM (src/replica/replay.ts), checks every
 * entry's CRC and state check and the replayed outputs against the primary's capture,
 * and shows the connections at any index.
 *
 *   ftcp replay LOG [--at N] [--conn ADDR:PORT|ID] [--primary FILE] [--rsm-config FILE] [--json]
 *
 * Exit codes (io.ts): 0 the replay agrees with the capture; 1 it does not (an output
 * differs, a state check fails, a corrupt entry with no intact copy cut the log, or the
 * file is damaged somewhere other than a cut tail);
 * 2 bad usage or unreadable input (a missing file, not pcapng, no log frames, --at
 * outside the log, an unknown connection).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { readPcapng, type PcapngReadResult } from '../pcap/reader.js';
import { decodeLog, extractLogFrames, extractOutputs, findRsmConfig, parseRsmConfigJson, type CapturedPacket, type ReplayBase } from '../replica/replay-input.js';
import { formatConnection, replayLog, ReplayError, type ConnectionState, type ReplayResult } from '../replica/replay.js';
import { stackFactory } from '../replica/stack-factory.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { helpAfter } from './help-layout.js';

interface ReplayFlags {
  at?: string;
  conn?: string;
  primary?: string;
  rsmConfig?: string;
  json?: boolean;
}

export function registerReplayCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('replay')
    .description(
      'the flight recorder: replay a capture of the log channel (log.pcapng) offline through a fresh RSM; ' +
        "check each entry's CRC and state check, compare the replayed outputs O(i) with the primary's capture " +
        'byte for byte, and show the connections at any entry',
    )
    .argument('<log>', 'pcapng capture of the log channel (the log.pcapng of `ftcp demo failover`)')
    .option('--at <n>', 'stop after entry n (default: the last entry)')
    .option('--conn <conn>', "show one connection: the client's ADDR:PORT or the connection id (default: a line per connection)")
    .option('--primary <file>', 'capture of the packets a replica released ("O(i), epoch e" comments), to compare with (default: primary.pcapng beside LOG, or NAME.pcapng beside NAME-log.pcapng, if there)')
    .option('--rsm-config <file>', 'JSON RSM config to start from, for a log capture that carries none')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    .addHelpText(
      'after',
      helpAfter('\nExit codes: 0 the replay matches the capture; 1 an output or a state check differs, or a corrupt\n' +
        'entry with no intact copy cuts the log short, or the file is damaged (not just cut short at its end);\n' +
        '2 bad usage or unreadable input.\n\n' +
        'Example:\n  ftcp demo failover --sim --seed 9 --app kv --connections 2 --capture-dir /tmp/c\n  ftcp replay /tmp/c/failover-kv-seed9/log.pcapng --at 12 --conn 192.0.2.1:55728')
    )
    .action((log: string, flags: ReplayFlags) => {
      setExitCode(replayCommand(log, flags, io));
    });
}

function readCapture(path: string, what: string, resync = false): PcapngReadResult {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return readPcapng(bytes, { resync });
  } catch (error) {
    throw new UsageError(`${what} ${path} is not a pcapng capture (${error instanceof Error ? error.message : String(error)})`);
  }
}

function packetsOf(capture: PcapngReadResult): CapturedPacket[] {
  return capture.packets.map((p, i) => ({ number: i + 1, timeUs: p.timestampUs, data: p.data, comments: p.comments }));
}

function parseAt(text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`--at must be an entry index (a whole number), got ${text}`);
  return n;
}

function findConnection(r: ReplayResult, text: string): ConnectionState {
  const t = text.trim().replace(/^#/, '');
  const byId = /^\d+$/.test(t);
  if (!byId && !/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(t)) throw new UsageError(`--conn must be ADDR:PORT (the client's, e.g. 192.0.2.1:49153) or a connection id, got ${text}`);
  const hit = r.connections.find((c) => (byId ? c.id === Number(t) : c.remote === t));
  if (hit !== undefined) return hit;
  const past = [...r.history].find(([id, h]) => (byId ? id === Number(t) : h.remote === t));
  const open = r.connections.map((c) => `#${c.id} ${c.remote}`).join(', ') || 'none';
  if (past !== undefined && past[1].lastIndex !== undefined) {
    throw new UsageError(`--conn ${text}: connection #${past[0]} (${past[1].remote}) was open from entry ${past[1].firstIndex} to ${past[1].lastIndex - 1}, not at entry ${r.index} (open: ${open})`);
  }
  throw new UsageError(`--conn ${text}: no such connection at entry ${r.index} (open: ${open})`);
}

/** Runs `replay` and returns the exit code. */
export function replayCommand(logPath: string, flags: ReplayFlags, io: CliIo): number {
  const at = flags.at === undefined ? undefined : parseAt(flags.at);
  const logCapture = readCapture(logPath, 'LOG', true);
  // Damage inside the file (not a cut tail): replay what precedes it, then fail saying where.
  const damaged = logCapture.damaged;
  const readable = damaged === undefined ? logCapture : { ...logCapture, packets: logCapture.packets.slice(0, damaged.packetsBefore) };
  const frames = extractLogFrames(packetsOf(readable));
  if (damaged !== undefined && frames.length === 0) throw new UsageError(`LOG ${logPath} is damaged before its first log-channel frame (${damaged.message})`);
  if (frames.length === 0) throw new UsageError(`LOG ${logPath} holds no log-channel frames (IPv4/UDP port 47001): is it the log.pcapng of a run?`);

  let base: ReplayBase | undefined;
  if (flags.rsmConfig !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.rsmConfig, 'utf8');
    } catch (error) {
      throw new UsageError(`--rsm-config ${flags.rsmConfig}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error)}`);
    }
    const parsed = parseRsmConfigJson(text);
    if ('error' in parsed) throw new UsageError(`--rsm-config ${flags.rsmConfig}: ${parsed.error}`);
    base = parsed;
  } else {
    const found = findRsmConfig(logCapture.interfaces.map((i) => i.description ?? ''));
    if (found !== undefined && 'error' in found) throw new UsageError(`LOG ${logPath}: ${found.error}`);
    base = found;
  }

  // Beside LOG: primary.pcapng (the simulator's names), or <name>.pcapng for <name>-log.pcapng (a replica process's).
  const own = /^(.+)-log\.pcapng$/.exec(basename(logPath));
  const defaultPrimary = join(dirname(logPath), own !== null ? `${own[1]}.pcapng` : 'primary.pcapng');
  const primaryPath = flags.primary ?? (existsSync(defaultPrimary) ? defaultPrimary : undefined);
  const outputs = primaryPath === undefined ? undefined : extractOutputs(packetsOf(readCapture(primaryPath, '--primary')));

  let result: ReplayResult;
  try {
    result = replayLog({ log: decodeLog(frames), ...(base !== undefined ? { base } : {}), factory: stackFactory, ...(at !== undefined ? { at } : {}), ...(outputs !== undefined ? { outputs } : {}) });
  } catch (error) {
    if (error instanceof ReplayError) throw new UsageError(`LOG ${logPath}: ${error.message}`);
    throw error;
  }
  const conn = flags.conn === undefined ? undefined : findConnection(result, flags.conn);

  const lostEntries = result.corrupt.filter((c) => !c.recovered);
  const ok = damaged === undefined && result.checks.failed === 0 && result.outputs.mismatchedEntries === 0 && lostEntries.length === 0 && result.segments.every((s) => s.gap === undefined);
  const lines: string[] = [];
  const cfg = base === undefined ? 'none in the capture' : `app ${base.rsm.app}, service port ${base.rsm.servicePort}, stack seed ${base.rsm.stack.seed}`;
  lines.push(`replay ${logPath}: ${frames.length} log-channel frames, ${result.logged} entries (${result.duplicates} sent again), RSM config: ${cfg}`);
  for (const s of result.segments) {
    const start = s.from === 'config' ? 'from the config' : `from the snapshot at ${s.baseIndex} (epoch ${s.epoch}, packet ${s.packet})`;
    lines.push(`  ${start}: entries ${s.baseIndex + 1}..${s.lastIndex}${s.gap !== undefined ? `; stops: ${s.gap.reason}` : ''}`);
  }
  const gap = result.segments[result.segment]?.gap;
  const why = at !== undefined ? '' : gap !== undefined ? ` (entry ${gap.index} cannot be replayed)` : ' (the end)';
  lines.push(`  replayed ${result.applied} entries, stopped after entry ${result.index}${why}`);
  const corruptLine = result.corrupt.length === 0 ? 'none' : `${result.corrupt.length} (${result.corrupt.length - lostEntries.length} with an intact copy elsewhere)`;
  lines.push(`  corrupt entries/frames: ${corruptLine}`);
  for (const c of lostEntries.slice(0, 5)) lines.push(`    packet ${c.packet}${c.index !== undefined ? `, entry ${c.index}` : ''}: ${c.reason}`);
  const fault = result.checks.first;
  lines.push(`  state checks: ${result.checks.verified} entries agree with the primary${result.checks.failed > 0 ? `, ${result.checks.failed} DO NOT` : ''}`);
  if (fault !== undefined) {
    const where = fault.connection === undefined ? 'the whole-state digest' : `connection #${fault.connection.id} (${fault.connection.remote})`;
    lines.push(`    first at entry ${fault.index}, ${where}: ${fault.field} is ${String(fault.replay)} in the replay, ${String(fault.primary)} on the primary`);
  }
  if (!result.outputs.checked) lines.push('  outputs: not compared (no primary.pcapng beside LOG; give one with --primary)');
  else {
    const o = result.outputs;
    lines.push(`  outputs vs ${primaryPath}: ${o.matchedPackets} packets identical, ${o.mismatchedEntries > 0 ? `${o.mismatchedEntries} entries DIFFER` : 'none differs'}`);
    lines.push(
      `    ${o.unreleasedPackets} replayed packets are not in it (held when its replica stopped, or released by another replica); ` +
        `${o.notReplayedPackets} captured packets are of entries not replayed (past a gap or --at, or never logged: a replica serving alone)`,
    );
    const m = o.first;
    if (m !== undefined) {
      const what =
        m.offset === undefined
          ? `entry ${m.index} produced ${m.replayedPackets} packets in the replay, ${m.capturedPackets} in the capture`
          : `packet ${m.position + 1} of O(${m.index}) differs at byte ${m.offset} (${m.where}): 0x${hex(m.captured)} captured, 0x${hex(m.replayed)} replayed` +
            ((m.differing ?? 0) > 1 ? `; ${m.differing} bytes differ, the last at byte ${m.lastOffset} (${m.lastWhere})` : '');
      lines.push(`    first mismatch at entry ${m.index}${m.connection !== undefined ? `, ${m.connection}` : ''}${m.packet !== undefined ? `, capture packet ${m.packet}` : ''}: ${what}`);
    }
  }
  for (const n of result.notes) lines.push(`  note: ${n}`);
  if (logCapture.truncated !== undefined) lines.push(`  note: LOG ends inside a block at byte ${logCapture.truncated.offset} (its writer was killed): read up to the last complete block`);
  if (conn !== undefined) lines.push(`connection at entry ${result.index}:`, `  ${formatConnection(conn)}`);
  else {
    lines.push(`connections at entry ${result.index}: ${result.connections.length}`);
    for (const c of result.connections) lines.push(`  ${formatConnection(c)}`);
  }
  if (damaged !== undefined) lines.push(`LOG is damaged: ${damaged.message}; replayed ${result.applied} of the ${entriesPresent(logCapture)} entries present (those past the damage are not replayed)`);
  lines.push(`result: ${ok ? 'ok, the replay agrees with the capture' : damaged !== undefined ? 'DAMAGED' : 'MISMATCH'}`);
  io.stdout(`${lines.join('\n')}\n`);
  if (flags.json === true) io.stdout(`${JSON.stringify(jsonResult(logPath, primaryPath, base, result, conn, ok, damaged))}\n`);
  return ok ? EXIT.ok : EXIT.correctness;
}

/** Distinct entry indices in every readable packet of the capture, past any damage too. */
function entriesPresent(capture: PcapngReadResult): number {
  return new Set(decodeLog(extractLogFrames(packetsOf(capture))).entries.map((e) => e.entry.index)).size;
}

function hex(v: number | undefined): string {
  return v === undefined ? '(none)' : v.toString(16).padStart(2, '0');
}

function jsonResult(log: string, primary: string | undefined, base: ReplayBase | undefined, r: ReplayResult, conn: ConnectionState | undefined, ok: boolean, damaged: PcapngReadResult['damaged']): object {
  return {
    ok,
    damaged: damaged ?? null,
    log,
    primary: primary ?? null,
    config: base ?? null,
    index: r.index,
    applied: r.applied,
    logged: r.logged,
    duplicates: r.duplicates,
    segments: r.segments,
    corrupt: r.corrupt,
    unreplayable: r.unreplayable,
    checks: r.checks,
    outputs: r.outputs,
    notes: r.notes,
    ...(conn !== undefined ? { connection: conn } : { connections: r.connections }),
  };
}
