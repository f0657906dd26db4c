/**
 * `ftcp fuzz` ("Hostile and malformed input"): a packet fuzzer against a live replica pair,
 * over UDP, through the switch, the way clients reach the replicas.
 *
 * Starts the arbiter, the switch, primary a and backup b (echo app), and load clients one
 * after another for the whole run (`ftcp client`, every byte checked); meanwhile sends R
 * datagrams a second of random and mutated segments (fuzz.ts) from a host of its own.
 * Then: one more load after the fuzz (the service still serves), both replicas must still
 * be running in their roles (no failover, no replication fault), and they are stopped
 * together; their exit lines carry the stacks' drop counters, and the switch's its own.
 * Reported: datagrams sent by kind, the switch's drops, each replica's drops by reason (the
 * backup replays what the primary got, so its counters must match the primary's), crashes
 * (0), the streams (intact), and both replicas' log index at the end.
 */
import * as dgram from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ControlAuthHost } from '../net/switch-auth.js';
import type { Child, ChildEvent } from './children.js';
import { wallClockMs } from '../net/clock.js';
import { FUZZ_KINDS, PacketFuzzer, type FuzzDatagram, type FuzzKind } from './fuzz.js';
import { onStopSignal, type LabIo, type RunOutcome } from './io.js';
import { SERVICE_PORT } from './launch.js';
import { LiveCluster } from './live-cluster.js';
import { parseIpv4Addr } from '../wire/addr.js';

export interface FuzzOptions {
  durationMs: number;
  seed: number;
  seedFromClock: boolean;
  /** Fuzz datagrams a second. */
  rate: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  captureDir: string;
  json: boolean;
}

interface LoadResult {
  label: string;
  intact: number;
  broken: number;
  resets: number;
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the fuzz and prints its report; resolves with how it ended. */
export async function runFuzz(o: FuzzOptions, io: LabIo): Promise<RunOutcome> {
  const run = new FuzzRun(o, io);
  await run.run();
  const report = run.judge();
  printFuzzReport(report, o.json, io);
  if (run.interrupted !== undefined) return 'interrupted';
  if (report.ok) return 'ok';
  if (report.loads === 0 && report.crashes === 0) return 'connection';
  return 'correctness';
}

class FuzzRun {
  readonly dir: string;
  readonly command: string;
  readonly problems: string[] = [];
  readonly cluster: LiveCluster;
  interrupted: string | undefined;
  private readonly roleEvents: string[] = [];
  /**
   * Set when this run begins stopping the pair: the replica that exits first closes the log
   * channel, and the other suspects it (at once, as after any crash of its peer). That is the
   * stop, not the fuzz: role events from then on are not the pair failing to stay as it was.
   */
  private stopping = false;
  private readonly fuzzer: PacketFuzzer;
  private readonly sent = Object.fromEntries(FUZZ_KINDS.map((k) => [k, 0])) as Record<FuzzKind, number>;
  private handshake = 0;
  private readonly loads: LoadResult[] = [];
  private socket: dgram.Socket | undefined;
  private alive = { a: false, b: false };
  private fuzzedMs = 0;
  private fuzzing = false;

  constructor(
    readonly o: FuzzOptions,
    private readonly io: LabIo,
  ) {
    this.dir = join(o.captureDir, `fuzz-seed${o.seed}`);
    mkdirSync(this.dir, { recursive: true });
    this.command = `ftcp fuzz --duration-ms ${o.durationMs} --seed ${o.seed} --rate ${o.rate} --heartbeat-ms ${o.heartbeatMs} --failure-timeout-ms ${o.failureTimeoutMs}`;
    this.cluster = new LiveCluster({
      dir: this.dir,
      app: 'echo',
      seed: o.seed,
      bulkBytes: 1_000_000,
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      unsafeNoOutputRule: false,
      onEvent: (label, e) => {
        if (!label.startsWith('replica ') || this.stopping) return;
        if (['suspect', 'won', 'lost', 'live', 'fenced', 'stopped', 'fault'].includes(e.event ?? '')) this.roleEvents.push(`${label}: ${e.event}${e['message'] !== undefined ? ` (${String(e['message'])})` : ''}`);
      },
    });
    this.fuzzer = new PacketFuzzer(o.seed, { service: parseIpv4Addr('192.0.2.10'), servicePort: SERVICE_PORT, spoof: parseIpv4Addr('192.0.2.1') });
  }

  private say(text: string): void {
    if (!this.o.json) this.io.stdout(`${text}\n`);
  }

  /** Every step, in order; a step that throws is a problem, and the children are stopped in any case. */
  async run(): Promise<void> {
    const o = this.o;
    this.say(`fuzz: ${o.durationMs} ms at ${o.rate} datagrams/s against a live pair (echo), seed ${o.seed}${o.seedFromClock ? ' (from the wall clock)' : ''}; H ${o.heartbeatMs} ms, D ${o.failureTimeoutMs} ms`);
    const onSignal = (signal: NodeJS.Signals) => {
      this.interrupted = signal;
      this.stopping = true;
      void this.cluster.stop();
    };
    const stopListening = onStopSignal(onSignal);
    try {
      const [a, b] = await this.startPair();
      const register = await this.openFuzzSocket();
      this.fuzzing = true;
      const loadLoop = this.loadLoop();
      await this.fuzz(register);
      this.fuzzing = false;
      await loadLoop;
      if (this.interrupted !== undefined) throw new Error(`interrupted by ${this.interrupted}`);
      // After the fuzz: the pair still serves.
      await this.runLoad('after', '20-30');
      await sleep(500);
      this.alive = { a: a.running, b: b.running };
    } catch (error) {
      this.problems.push(error instanceof Error ? error.message : String(error));
    } finally {
      stopListening();
      this.socket?.close();
      this.stopping = true;
      await this.cluster.stop();
    }
  }

  private async startPair(): Promise<[Child, Child]> {
    const cluster = this.cluster;
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 20_000, 'the switch\'s confirmation of the service address');
    this.say(`  arbiter, switch 127.0.0.1:${cluster.switchPort}, primary a (pid ${a.pid}), backup b (pid ${b.pid})`);
    return [a, b];
  }

  private send(d: FuzzDatagram): void {
    if (d.kind === 'handshake') this.handshake++;
    else this.sent[d.kind]++;
    this.socket!.send(d.bytes, this.cluster.switchPort, '127.0.0.1');
  }

  /** The fuzzer's own host on the switch; returns how to (re-)register its address. */
  private async openFuzzSocket(): Promise<() => void> {
    const { cluster, fuzzer } = this;
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    this.socket = sock;
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    // its own registration is authenticated with the run's cluster key, as a client's.
    const auth = cluster.clusterKey === undefined ? undefined : new ControlAuthHost(cluster.clusterKey);
    const register = () => sock.send(auth?.register(fuzzer.self, 0) ?? fuzzer.registration(), cluster.switchPort, '127.0.0.1');
    sock.on('message', (msg) => {
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
      if (bytes.length > 0 && bytes[0] === 0) {
        if (auth?.receive(bytes) === 'challenge') register(); // the switch's nonce: register with it
        return; // the switch's control answers
      }
      for (const d of fuzzer.receive(bytes)) this.send(d);
    });
    register();
    await sleep(100);
    return register;
  }

  /** One load client (`ftcp client`, every byte checked) to its result. */
  private async runLoad(label: string, requests: string): Promise<void> {
    const c: Child = await this.cluster.startClient(label, { connections: 2, requests, thinkMs: '2-10', timeoutMs: 120_000, progressMs: 0 });
    const r = await c.waitFor((e) => e.event === 'result', 180_000, 'its result line');
    const streams = (r['streams'] as { intact: number; broken: number } | undefined) ?? { intact: 0, broken: 2 };
    this.loads.push({ label, intact: streams.intact, broken: streams.broken, resets: (r['resets'] as number | undefined) ?? 0, problems: (r['problems'] as string[] | undefined) ?? [] });
  }

  /** Load clients one after another while the fuzz runs. */
  private async loadLoop(): Promise<void> {
    const loop = (async () => {
      for (let n = 1; this.fuzzing && this.interrupted === undefined; n++) await this.runLoad(`client-${n}`, '40-80');
    })();
    loop.catch(() => undefined);
    return loop;
  }

  private async fuzz(register: () => void): Promise<void> {
    const { o, fuzzer } = this;
    const start = wallClockMs();
    this.say(`  fuzzing from 192.0.2.66 (registered with the switch like a client), load clients checking every byte...`);
    let due = 0;
    while (wallClockMs() - start < o.durationMs && this.interrupted === undefined) {
      due += o.rate / 100;
      for (; due >= 1; due--) this.send(fuzzer.next());
      if (Math.round(wallClockMs() - start) % 1000 < 10) register(); // keep the address
      await sleep(10);
    }
    this.fuzzedMs = Math.round(wallClockMs() - start);
  }

  /** The verdicts, from the children's exit lines and the loads, and the report. */
  judge() {
    const { cluster, problems, loads, alive, sent, o } = this;
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
    for (const e of this.roleEvents) problems.push(`the pair did not stay as it was: ${e}`);
    if (this.interrupted === undefined && !(alive.a && alive.b)) problems.push(`at the end: replica a ${alive.a ? 'running' : 'NOT running'}, b ${alive.b ? 'running' : 'NOT running'}`);
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
    const total = Object.values(sent).reduce((x, y) => x + y, 0);
    return {
      ok: problems.length === 0,
      seed: o.seed,
      durationMs: o.durationMs,
      fuzzedMs: this.fuzzedMs,
      rate: o.rate,
      sent: { total, byKind: sent, handshake: this.handshake },
      replies: this.fuzzer.replies,
      switch: switchStats === undefined ? null : { datagramsIn: switchStats.datagramsIn, forwarded: switchStats.forwarded, serviceMoves, dropped: nonZero(switchStats.dropped), malformed: switchStats.malformed, badAuth: nonZero(switchStats.badAuth ?? {}) },
      replicas: { a: ra, b: rb },
      replicating: { alive, primaryIndex: ra?.index ?? null, backupIndex: rb?.index ?? null, dropsMatch },
      crashes: crashes.length,
      streams,
      resets,
      loads: loads.length,
      problems,
      dir: this.dir,
      command: this.command,
    };
  }
}

type FuzzReport = ReturnType<FuzzRun['judge']>;

function printFuzzReport(report: FuzzReport, json: boolean, io: LabIo): void {
  if (json) {
    io.stdout(`${JSON.stringify(report)}\n`);
    return;
  }
  const { sent, replies, switch: sw, replicas, replicating, streams } = report;
  const lines = [`result: ${report.ok ? 'ok' : 'FAILED'} after ${report.fuzzedMs} ms of fuzz`, `  sent ${sent.total} fuzz datagrams (+${sent.handshake} handshake segments of its own connections):`];
  for (const k of FUZZ_KINDS) lines.push(`    ${k.padEnd(16)} ${String(sent.byKind[k]).padStart(8)}`);
  lines.push(`  replies from the service: ${replies.segments} segments (${replies.rst} RST, ${replies.synAck} SYN-ACK, ${replies.data} with data)`);
  if (sw !== null) lines.push(`  switch: ${sw.datagramsIn} datagrams in, ${sw.forwarded} forwarded; dropped ${fmt(sw.dropped)}${Object.keys(sw.malformed).length > 0 ? ` (malformed: ${fmt(sw.malformed)})` : ''}${Object.keys(sw.badAuth).length > 0 ? ` (bad-auth: ${fmt(sw.badAuth)})` : ''}; the service address moved ${sw.serviceMoves} time(s)`);
  for (const [n, r] of [['a', replicas.a], ['b', replicas.b]] as const) if (r !== null) lines.push(`  replica ${n} (${String(r.role)}, log index ${String(r.index)}): drops ${fmt(r.drops)}; RSTs sent ${String(r.resetsSent)}, challenge ACKs ${String(r.challengeAcks)}`);
  const dropsMatch = replicating.dropsMatch;
  lines.push(`  backup's drop counters ${dropsMatch === true ? 'identical to the primary\'s' : dropsMatch === false ? 'DIFFER from the primary\'s' : 'not comparable (different log index at exit)'}`);
  const alive = replicating.alive;
  lines.push(`  crashes: ${report.crashes}; streams: ${streams.intact} intact, ${streams.broken} broken over ${report.loads} load(s); resets: ${report.resets}; both replicas running at the end: ${alive.a && alive.b ? 'yes' : 'NO'}`);
  for (const p of report.problems.slice(0, 10)) lines.push(`  problem: ${p}`);
  lines.push(`event logs and captures: ${report.dir}/`, `reproduce: ${report.command}`);
  io.stdout(`${lines.join('\n')}\n`);
}

/** A replica's exit line, as the report shows it. */
function replicaSummary(exit: ChildEvent | undefined): { role: unknown; index: number | null; drops: Record<string, number>; resetsSent: number | null; challengeAcks: number | null; packetsIn: number | null } | null {
  const stats = exit?.['stats'] as Record<string, unknown> | undefined;
  if (stats === undefined) return null;
  const stack = stats['stack'] as { drops?: Record<string, number>; resetsSent?: number; challengeAcks?: number; packetsIn?: number } | null;
  return { role: stats['role'], index: (stats['index'] as number | null) ?? null, drops: stack?.drops ?? {}, resetsSent: stack?.resetsSent ?? null, challengeAcks: stack?.challengeAcks ?? null, packetsIn: stack?.packetsIn ?? null };
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
