/**
 * `ftcp fuzz` ("Hostile and malformed input"): a packet fuzzer against a live
 * replica pair, over UDP, through the switch, the way clients reach the replicas.
 *
 *   ftcp fuzz [--duration-ms N] [--seed S] [--rate R] [--json] [--capture-dir D]
 *
 * Starts the arbiter, the switch, primary a and backup b (echo app), and load clients one
 * after another for the whole run (`ftcp client`, every byte checked); meanwhile sends R
 * datagrams a second of random and mutated segments (src/lab/fuzz.ts) from a host of its
 * own. Then: one more load after the fuzz (the service still serves), both replicas must
 * still be running in their roles (no failover, no replication fault), and they are
 * stopped together; their exit lines carry the stacks' drop counters, and the switch's its
 * own. Reported: datagrams sent by kind, the switch's drops, each replica's drops by reason
 * (the backup replays what the primary got, so its counters must match the primary's),
 * crashes (0), the streams (intact), and both replicas' log index at the end.
 */
import * as dgram from 'node:dgram';
import { ControlAuthHost } from '../net/switch-auth.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Child, ChildEvent } from '../lab/children.js';
import { wallClockMs } from '../net/clock.js';
import { FUZZ_KINDS, PacketFuzzer, type FuzzDatagram, type FuzzKind } from '../lab/fuzz.js';
import { LiveCluster } from '../lab/live-cluster.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { DEFAULT_SERVICE_PORT, parsePositiveMs } from './replica.js';
import { parseIntegerFlag, parseMilliseconds, parseSeed } from './validate.js';

interface FuzzFlags {
  durationMs: string;
  seed?: string;
  rate: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  captureDir: string;
  json?: boolean;
}

export function registerFuzzCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('fuzz')
    .summary('random and mutated segments over UDP at a live replica pair, under a byte-checked load')
    .description(
      'Starts a replicated pair (echo app) with load clients that check every byte, and for --duration-ms sends\n' +
        'random and mutated TCP/IP packets at the service through the switch: random bytes, bit flips, truncations,\n' +
        'bad checksums and IP headers, wild options, segments in and out of the window, SYN/RST/FIN combinations,\n' +
        'replays, stray and spoofed packets, corrupt switch control datagrams. Reports what was sent by kind, the\n' +
        'switch\'s and both replicas\' drop counters by reason, crashes, the streams, and whether both replicas still\n' +
        'replicate at the end.',
    )
    .option('--duration-ms <ms>', 'how long to fuzz', '10000')
    .option('--seed <s>', 'seed of every random choice (default: from the wall clock, printed)')
    .option('--rate <n>', 'fuzz datagrams per second, 1..20000', '1000')
    .option('--heartbeat-ms <ms>', 'H, the log channel\'s heartbeat', '10')
    .option('--failure-timeout-ms <ms>', 'D, silence before the arbiter is asked', '50')
    .option('--capture-dir <dir>', 'captures and event logs go to <dir>/fuzz-seed<S>/', 'captures')
    .option('--json', 'print the report as one JSON object on the last line of stdout')
    .addHelpText('after', '\nExit codes: 0 ok; 1 a stream broke, a replica crashed or stopped replicating; 2 bad usage;\n4 a load client could not run.\n\nExample:\n  ftcp fuzz --duration-ms 60000 --seed 1 --json')
    .action(async (flags: FuzzFlags) => {
      setExitCode(await runFuzz(flags, io));
    });
}

interface LoadResult {
  label: string;
  intact: number;
  broken: number;
  resets: number;
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A replica's exit line, as the report shows it. */
function replicaSummary(exit: ChildEvent | undefined): { role: unknown; index: number | null; drops: Record<string, number>; resetsSent: number | null; challengeAcks: number | null; packetsIn: number | null } | null {
  const stats = exit?.['stats'] as Record<string, unknown> | undefined;
  if (stats === undefined) return null;
  const stack = stats['stack'] as { drops?: Record<string, number>; resetsSent?: number; challengeAcks?: number; packetsIn?: number } | null;
  return { role: stats['role'], index: (stats['index'] as number | null) ?? null, drops: stack?.drops ?? {}, resetsSent: stack?.resetsSent ?? null, challengeAcks: stack?.challengeAcks ?? null, packetsIn: stack?.packetsIn ?? null };
}

async function runFuzz(flags: FuzzFlags, io: CliIo): Promise<number> {
  const durationMs = parseMilliseconds('--duration-ms', flags.durationMs, 24 * 3_600_000);
  const seedFromClock = flags.seed === undefined;
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  const rate = parseIntegerFlag('--rate', flags.rate, 1, 20_000);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  if (flags.captureDir.trim() === '') throw new UsageError('--capture-dir must not be empty');
  const json = flags.json === true;
  const say = (text: string) => {
    if (!json) io.stdout(`${text}\n`);
  };
  const dir = join(flags.captureDir, `fuzz-seed${seed}`);
  mkdirSync(dir, { recursive: true });
  const command = `ftcp fuzz --duration-ms ${durationMs} --seed ${seed} --rate ${rate} --heartbeat-ms ${heartbeatMs} --failure-timeout-ms ${failureTimeoutMs}`;
  say(`fuzz: ${durationMs} ms at ${rate} datagrams/s against a live pair (echo), seed ${seed}${seedFromClock ? ' (from the wall clock)' : ''}; H ${heartbeatMs} ms, D ${failureTimeoutMs} ms`);

  const problems: string[] = [];
  const roleEvents: string[] = [];
  const cluster = new LiveCluster({
    dir,
    app: 'echo',
    seed,
    bulkBytes: 1_000_000,
    heartbeatMs,
    failureTimeoutMs,
    unsafeNoOutputRule: false,
    onEvent: (label, e) => {
      if (!label.startsWith('replica ')) return;
      if (['suspect', 'won', 'lost', 'live', 'fenced', 'stopped', 'fault'].includes(e.event ?? '')) roleEvents.push(`${label}: ${e.event}${e['message'] !== undefined ? ` (${String(e['message'])})` : ''}`);
    },
  });
  const fuzzer = new PacketFuzzer(seed, { service: parseIpv4Addr('192.0.2.10'), servicePort: DEFAULT_SERVICE_PORT, spoof: parseIpv4Addr('192.0.2.1') });
  const sent = Object.fromEntries(FUZZ_KINDS.map((k) => [k, 0])) as Record<FuzzKind, number>;
  let handshake = 0;
  const loads: LoadResult[] = [];
  let socket: dgram.Socket | undefined;
  let interrupted: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    void cluster.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let alive: { a: boolean; b: boolean } = { a: false, b: false };
  let fuzzedMs = 0;
  try {
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 20_000, 'the switch\'s confirmation of the service address');
    say(`  arbiter, switch 127.0.0.1:${cluster.switchPort}, primary a (pid ${a.pid}), backup b (pid ${b.pid})`);

    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    socket = sock;
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    const send = (d: FuzzDatagram) => {
      if (d.kind === 'handshake') handshake++;
      else sent[d.kind]++;
      sock.send(d.bytes, cluster.switchPort, '127.0.0.1');
    };
    // its own registration is authenticated with the run's cluster key, as a client's.
    const auth = cluster.clusterKey === undefined ? undefined : new ControlAuthHost(cluster.clusterKey);
    const register = () => sock.send(auth?.register(fuzzer.self, 0) ?? fuzzer.registration(), cluster.switchPort, '127.0.0.1');
    sock.on('message', (msg) => {
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
      if (bytes.length > 0 && bytes[0] === 0) {
        if (auth?.receive(bytes) === 'challenge') register(); // the switch's nonce: register with it
        return; // the switch's control answers
      }
      for (const d of fuzzer.receive(bytes)) send(d);
    });
    register();
    await sleep(100);

    // Load clients one after another while the fuzz runs; every byte checked.
    let fuzzing = true;
    const runLoad = async (label: string, requests: string): Promise<void> => {
      const c: Child = await cluster.startClient(label, ['--connections', '2', '--requests', requests, '--think-ms', '2-10', '--timeout-ms', '120000', '--progress-ms', '0']);
      const r = await c.waitFor((e) => e.event === 'result', 180_000, 'its result line');
      const streams = (r['streams'] as { intact: number; broken: number } | undefined) ?? { intact: 0, broken: 2 };
      loads.push({ label, intact: streams.intact, broken: streams.broken, resets: (r['resets'] as number | undefined) ?? 0, problems: (r['problems'] as string[] | undefined) ?? [] });
    };
    const loadLoop = (async () => {
      for (let n = 1; fuzzing && interrupted === undefined; n++) await runLoad(`client-${n}`, '40-80');
    })();
    loadLoop.catch(() => undefined);

    const start = wallClockMs();
    say(`  fuzzing from 192.0.2.66 (registered with the switch like a client), load clients checking every byte...`);
    let due = 0;
    while (wallClockMs() - start < durationMs && interrupted === undefined) {
      due += rate / 100;
      for (; due >= 1; due--) send(fuzzer.next());
      if (Math.round(wallClockMs() - start) % 1000 < 10) register(); // keep the address
      await sleep(10);
    }
    fuzzedMs = Math.round(wallClockMs() - start);
    fuzzing = false;
    await loadLoop;
    if (interrupted !== undefined) throw new Error(`interrupted by ${interrupted}`);
    // After the fuzz: the pair still serves.
    await runLoad('after', '20-30');
    await sleep(500);
    alive = { a: a.running, b: b.running };
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    socket?.close();
    await cluster.stop();
  }

  // ---- verdicts
  const exitOf = (c: Child | undefined, event: string) => c?.events.find((e) => e.event === event);
  const ra = replicaSummary(exitOf(cluster.replicas.get('a'), 'exit'));
  const rb = replicaSummary(exitOf(cluster.replicas.get('b'), 'exit'));
  const switchStats = exitOf(cluster.switch, 'stopped')?.['stats'] as { datagramsIn: number; forwarded: number; dropped: Record<string, number>; malformed: Record<string, number>; badAuth?: Record<string, number> } | undefined;
  // A crash: a child that died of anything but our SIGTERM, or printed an uncaught error.
  const crashes = cluster.children.all
    .filter((c) => !c.label.startsWith('client') && c.label !== 'after')
    .filter((c) => (c.exit?.code !== 0 && c.exit?.code !== undefined) || c.exit?.signal === 'SIGKILL' || /\n\s+at |Uncaught|RangeError|TypeError/.test(c.stderr))
    .map((c) => `${c.label} (pid ${c.pid}): exit ${c.exit?.code ?? c.exit?.signal}${c.stderrLine()}`);
  for (const c of crashes) problems.push(`crash: ${c}`);
  for (const e of roleEvents) problems.push(`the pair did not stay as it was: ${e}`);
  if (interrupted === undefined && !(alive.a && alive.b)) problems.push(`at the end: replica a ${alive.a ? 'running' : 'NOT running'}, b ${alive.b ? 'running' : 'NOT running'}`);
  const streams = { intact: loads.reduce((n, l) => n + l.intact, 0), broken: loads.reduce((n, l) => n + l.broken, 0) };
  const resets = loads.reduce((n, l) => n + l.resets, 0);
  for (const l of loads) for (const p of l.problems) problems.push(`${l.label}: ${p}`);
  if (resets > 0) problems.push(`${resets} load connection(s) reset`);
  // a spoofed registration taken by the switch would move the service address away from a.
  const serviceMoves = cluster.switch?.events.filter((e) => e.event === 'moved' && e['address'] === '192.0.2.10').length ?? 0;
  if (serviceMoves > 0) problems.push(`the switch moved the service address ${serviceMoves} time(s) during the fuzz (a spoofed registration was taken)`);
  if (loads.length === 0 && problems.length === 0) problems.push('no load ran');
  // The backup replays every packet the primary got: at the same index, the same drops.
  const sameIndex = ra !== null && rb !== null && ra.index === rb.index;
  const dropsMatch = sameIndex ? JSON.stringify(sortKeys(ra.drops)) === JSON.stringify(sortKeys(rb.drops)) : null;
  if (ra === null || rb === null) problems.push('a replica printed no exit line with its counters');
  else if (dropsMatch === false) problems.push(`at the same log index ${String(ra.index)} the backup's drop counters differ from the primary's`);
  const ok = problems.length === 0;
  const total = Object.values(sent).reduce((a, b) => a + b, 0);
  const report = {
    ok,
    seed,
    durationMs,
    fuzzedMs,
    rate,
    sent: { total, byKind: sent, handshake },
    replies: fuzzer.replies,
    switch: switchStats === undefined ? null : { datagramsIn: switchStats.datagramsIn, forwarded: switchStats.forwarded, serviceMoves, dropped: nonZero(switchStats.dropped), malformed: switchStats.malformed, badAuth: nonZero(switchStats.badAuth ?? {}) },
    replicas: { a: ra, b: rb },
    replicating: { alive, primaryIndex: ra?.index ?? null, backupIndex: rb?.index ?? null, dropsMatch },
    crashes: crashes.length,
    streams,
    resets,
    loads: loads.length,
    problems,
    dir,
    command,
  };
  if (json) {
    io.stdout(`${JSON.stringify(report)}\n`);
  } else {
    const lines = [`result: ${ok ? 'ok' : 'FAILED'} after ${fuzzedMs} ms of fuzz`, `  sent ${total} fuzz datagrams (+${handshake} handshake segments of its own connections):`];
    for (const k of FUZZ_KINDS) lines.push(`    ${k.padEnd(16)} ${String(sent[k]).padStart(8)}`);
    lines.push(`  replies from the service: ${fuzzer.replies.segments} segments (${fuzzer.replies.rst} RST, ${fuzzer.replies.synAck} SYN-ACK, ${fuzzer.replies.data} with data)`);
    if (report.switch !== null) lines.push(`  switch: ${report.switch.datagramsIn} datagrams in, ${report.switch.forwarded} forwarded; dropped ${fmt(report.switch.dropped)}${Object.keys(report.switch.malformed).length > 0 ? ` (malformed: ${fmt(report.switch.malformed)})` : ''}${Object.keys(report.switch.badAuth).length > 0 ? ` (bad-auth: ${fmt(report.switch.badAuth)})` : ''}; the service address moved ${report.switch.serviceMoves} time(s)`);
    for (const [n, r] of [['a', ra], ['b', rb]] as const) if (r !== null) lines.push(`  replica ${n} (${String(r.role)}, log index ${String(r.index)}): drops ${fmt(r.drops)}; RSTs sent ${String(r.resetsSent)}, challenge ACKs ${String(r.challengeAcks)}`);
    lines.push(`  backup's drop counters ${dropsMatch === true ? 'identical to the primary\'s' : dropsMatch === false ? 'DIFFER from the primary\'s' : 'not comparable (different log index at exit)'}`);
    lines.push(`  crashes: ${crashes.length}; streams: ${streams.intact} intact, ${streams.broken} broken over ${loads.length} load(s); resets: ${resets}; both replicas running at the end: ${alive.a && alive.b ? 'yes' : 'NO'}`);
    for (const p of problems.slice(0, 10)) lines.push(`  problem: ${p}`);
    lines.push(`event logs and captures: ${dir}/`, `reproduce: ${command}`);
    io.stdout(`${lines.join('\n')}\n`);
  }
  if (interrupted !== undefined) return 130;
  if (ok) return EXIT.ok;
  if (loads.length === 0 && crashes.length === 0) return EXIT.connection;
  return EXIT.correctness;
}

function nonZero(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).filter(([, n]) => n > 0));
}

function sortKeys(r: Record<string, number>): Array<[string, number]> {
  return Object.entries(r).sort(([x], [y]) => x.localeCompare(y));
}

function fmt(r: Record<string, number>): string {
  const e = Object.entries(r).filter(([, n]) => n > 0);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k} ${n}`).join(', ');
}
