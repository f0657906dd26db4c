/**
 * `ftcp bench` (what `npm run bench` runs): the figures, each measured side by
 * side with its reference in the same run and printed with the command that produced it
 * and its target (docs/performance.md says what each one measures and how):
 *
 *   stack       two ftcp stacks in one process over an in-memory link ÷ Node `net` over
 *               the kernel's loopback (stack.ratio1500, stack.ratio65535)
 *   replicated  real processes over the UDP switch: bulk through a replicated pair ÷ through
 *               one unreplicated server; counter latency overhead and the log round trip;
 *               log-channel bytes per client byte (replicated.*, logRttP50Us, log.*)
 *   failover    kill -9 of the primary to the client's first byte from the backup (failover.*)
 *   switchover  SIGTERM of the primary (a planned handover) to the client's next byte (switchover.*)
 *   scale       idle connections held by a pair, memory per connection, survivors (scale.*)
 *   kernel      kernel client through TUN (kernel.ratio; says why when skipped)
 *   lan         failover on the LAN lab, kernel client (lan.*; not with --quick; bench-lan.ts)
 *
 * Benchmarks are not tests: nothing here asserts a time; a figure that misses its target
 * is reported as such. Every child process is stopped by pid, also on error and Ctrl-C.
 */
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { DEFAULT_PAIR, SCALE_PAIR, STEADY_PAIR, failoverTrial, latency, logBytes, replicatedThroughput, stopAllClusters, type FailoverTrial, type PairSettings } from './bench-cluster.js';
import { scale } from './bench-scale.js';
import { kernelInner, kernelOuter } from './bench-kernel.js';
import { benchLan } from './bench-lan.js';
import { jsonNumber, latencyVerdict, ratio, TARGETS, verdict } from './bench-stats.js';
import { percentile } from '../net/log-rtt.js';
import { DEFAULT_NICE } from '../net/priority.js';
import { Stack } from '../tcp/stack.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { onStopSignal, type LabIo, type RunOutcome } from './io.js';
import { benchSwitchover, type SwitchoverLoad } from './bench-switchover.js';

export const BENCH_GROUPS = ['stack', 'replicated', 'failover', 'switchover', 'scale', 'kernel', 'lan'] as const;
export type BenchGroup = (typeof BENCH_GROUPS)[number];

export interface Figure {
  key: string;
  what: string;
  value: number;
  unit: string;
  command: string;
  /** A verdict other than the table's (latency: relative to the log round trip). */
  verdict?: 'met' | 'MISSED' | 'report';
  target?: string;
}

/** Move `bytes` from a client stack to a server stack over a lossless in-memory link; returns MB/s of wall time. */
export function stackThroughput(bytes: number, mtu: number): { mbPerS: number; seconds: number; virtualSeconds: number } {
  const clientAddr = parseIpv4Addr('192.0.2.1');
  const serverAddr = parseIpv4Addr('192.0.2.10');
  const big = mtu > 1500;
  const bufferBytes = big ? 1 << 20 : 256 * 1024;
  const cfg = { mtu, sendBufferBytes: bufferBytes, recvBufferBytes: Math.min(65_535, bufferBytes) };
  const client = new Stack({ addresses: [clientAddr], seed: 1, ...cfg });
  const server = new Stack({ addresses: [serverAddr], seed: 2, ...cfg });
  let now = 0;
  const listener = server.listen(now, { port: 80 });
  const sock = client.connect(now, { remoteAddress: serverAddr, remotePort: 80 });
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let written = 0;
  let received = 0;
  let conn: number | undefined;
  const start = performance.now();
  for (let rounds = 0; received < bytes; rounds++) {
    if (rounds > 50_000_000) throw new Error('bench: transfer made no progress');
    let moved = false;
    while (written < bytes) {
      const n = client.write(now, sock, chunk.subarray(0, Math.min(chunk.length, bytes - written)));
      if (n === 0) break;
      written += n;
    }
    for (let p = client.pollTransmit(); p !== undefined; p = client.pollTransmit()) {
      server.handlePacket(now, p);
      moved = true;
    }
    while (client.pollEvent() !== undefined);
    for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) {
      if (e.type === 'incoming') conn = server.accept(listener);
    }
    if (conn !== undefined) {
      for (let r = server.read(now, conn); r.length > 0; r = server.read(now, conn)) received += r.length;
    }
    for (let p = server.pollTransmit(); p !== undefined; p = server.pollTransmit()) {
      client.handlePacket(now, p);
      moved = true;
    }
    if (!moved) {
      // Nothing in flight: let virtual time run to the next deadline (delayed ACK, RTO).
      const next = Math.min(client.pollTimeout() ?? Infinity, server.pollTimeout() ?? Infinity);
      if (next === Infinity) throw new Error('bench: stalled with no timer');
      now = Math.max(now + 1, next);
      client.handleTimeout(now);
      server.handleTimeout(now);
    } else {
      now += 10; // 10 µs per round of the link
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { mbPerS: bytes / 1e6 / seconds, seconds, virtualSeconds: now / 1e6 };
}

/** Move `bytes` through Node's net over 127.0.0.1 in this process; returns MB/s. */
export async function kernelThroughput(bytes: number): Promise<{ mbPerS: number; seconds: number }> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      let got = 0;
      const start = performance.now();
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= bytes) {
          const seconds = (performance.now() - start) / 1000;
          s.destroy();
          server.close();
          resolve({ mbPerS: bytes / 1e6 / seconds, seconds });
        }
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const c = netConnect(port, '127.0.0.1', () => {
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
          c.end();
        };
        pump();
      });
      c.on('error', () => undefined);
    });
  });
}

/** The figures as the JSON object of `--json`: every key by its stable name, then the details. */
export function benchJson(figures: readonly Figure[], extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra };
  const commands: Record<string, string> = {};
  const missed: string[] = [];
  for (const f of figures) {
    out[f.key] = jsonNumber(f.value);
    commands[f.key] = f.command;
    if ((f.verdict ?? verdict(f.key, f.value)) === 'MISSED') missed.push(f.key);
  }
  return { ...out, missed, commands };
}

/** One line of the human report: key, value, unit, target and verdict, command. */
export function figureLine(f: Figure): string {
  const v = f.verdict ?? verdict(f.key, f.value);
  const target = f.target ?? TARGETS[f.key]?.text;
  const value = Number.isFinite(f.value) ? (Math.abs(f.value) >= 100 || Number.isInteger(f.value) ? f.value.toFixed(0) : f.value.toPrecision(3)) : 'n/a';
  const t = target === undefined ? '' : `target ${target}${v === 'MISSED' ? ': MISSED' : v === 'met' ? ': met' : ''}`;
  return `  ${f.key.padEnd(34)} ${`${value} ${f.unit}`.padEnd(16)} ${t.padEnd(30)} $ ${f.command}`;
}

export interface BenchOptions {
  groups: readonly BenchGroup[];
  quick: boolean;
  json: boolean;
  /** --only as given, for the first line. */
  only?: string;
  trials: number;
  /** --trials was given (the figures' commands then say it). */
  trialsGiven: boolean;
  connections: number;
  connectionsGiven: boolean;
  /** Failover trials: Dmax of the failure detectors (none: D). */
  failureTimeoutMaxMs?: number;
  /** Failover trials: S, the detectors' start-up allowance (none: the replica's default). */
  failureTimeoutStartMs?: number;
  /** Switchover trials' workload (default bulk). */
  switchoverLoad?: SwitchoverLoad;
  /** Set in the kernel group's run inside its network namespace. */
  netnsInner?: string;
}

/** What every group of a run shares: where it prints, how it adds a figure, its details. */
export interface BenchContext {
  o: BenchOptions;
  say: (s: string) => void;
  add: (f: Figure) => void;
  cmd: (group: BenchGroup, more?: string) => string;
  details: Record<string, unknown>;
  interrupted: string | undefined;
  /** The replicated group's pair throughput (sizes the failover trials' transfer). */
  replicatedMBps: number;
}

const GROUPS: Record<BenchGroup, (c: BenchContext) => Promise<void>> = {
  stack: benchStack,
  replicated: benchReplicated,
  failover: benchFailover,
  switchover: benchSwitchover, // bench-switchover.ts; not in --quick
  scale: benchScale,
  kernel: benchKernel,
  lan: benchLan,
};

/** Runs the groups in order; a group that fails (a child that cannot start, a transfer that stalls) is reported, and the others still run. */
export async function runBench(o: BenchOptions, io: LabIo): Promise<RunOutcome> {
  const q = o.quick ? ' --quick' : '';
  const figures: Figure[] = [];
  const say = (s: string) => (o.json ? io.stderr(`${s}\n`) : io.stdout(`${s}\n`));
  const c: BenchContext = {
    o,
    say,
    add: (f) => {
      figures.push(f);
      say(figureLine(f));
    },
    cmd: (group, more = '') => `ftcp bench --only ${group}${q}${more}`,
    details: {},
    interrupted: undefined,
    replicatedMBps: NaN,
  };
  const started = performance.now();
  const onSignal = (signal: NodeJS.Signals) => {
    c.interrupted = signal;
    say(`interrupted by ${signal}: stopping every child`);
    void stopAllClusters().then(() => process.exit(130));
  };
  const stopListening = onStopSignal(onSignal);
  say(`ftcp bench${q}${o.only !== undefined ? ` --only ${o.only}` : ''}: ${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} core(s); failover trials at heartbeat ${DEFAULT_PAIR.heartbeatMs} ms, failure timeout ${DEFAULT_PAIR.failureTimeoutMs} ms; steady-state runs at failure timeout ${STEADY_PAIR.failureTimeoutMs} ms (a busy machine makes false failovers at 50)`);
  say('  figures are ratios measured side by side in this run; absolute times vary with the machine and its load');
  const errors: Record<string, string> = {};
  try {
    for (const group of BENCH_GROUPS) {
      if (!o.groups.includes(group)) continue;
      try {
        await GROUPS[group](c);
      } catch (error) {
        errors[group] = error instanceof Error ? error.message : String(error);
        say(`error in ${group}: ${errors[group]}`);
      } finally {
        await stopAllClusters();
      }
    }
  } finally {
    stopListening();
    await stopAllClusters();
  }
  const seconds = (performance.now() - started) / 1000;
  const out = benchJson(figures, { date: new Date().toISOString(), node: process.version, cores: availableParallelism(), quick: o.quick, seconds: Math.round(seconds), 'kernel.ratio': null });
  const missed = out['missed'] as string[];
  say(`done in ${seconds.toFixed(0)} s; ${missed.length === 0 ? 'every target met' : `targets missed: ${missed.join(', ')}`}`);
  if (o.json) io.stdout(`${JSON.stringify({ ...out, errors, details: c.details })}\n`);
  return Object.keys(errors).length === 0 ? 'ok' : 'correctness';
}

/** Two ftcp stacks in this process over an in-memory link, against Node net over the kernel's loopback. */
async function benchStack(c: BenchContext): Promise<void> {
  const { o, say, add, cmd } = c;
  const quick = o.quick;
  const mb = quick ? 5 : 50;
  const bytes = mb * 1_000_000;
  // Best of 3, each side: one 50 MB run lasts ~0.1 s, and a busy moment of the machine
  // moved a single run's ratio between 0.45 and 0.64.
  const runs = quick ? 1 : 3;
  say(`stack: ${mb} MB one way, two ftcp stacks in this process over an in-memory link vs Node net over kernel loopback, best of ${runs}`);
  const best = async (f: () => Promise<{ mbPerS: number }> | { mbPerS: number }) => {
    let top = NaN;
    for (let i = 0; i < runs; i++) {
      const r = await f();
      if (!(r.mbPerS <= top)) top = r.mbPerS;
    }
    return top;
  };
  const kernel = await best(() => kernelThroughput(bytes));
  add({ key: 'kernel.loopbackMBps', what: 'Node net over kernel loopback', value: kernel, unit: 'MB/s', command: cmd('stack') });
  for (const mtu of [1500, 65535]) {
    const mbps = await best(() => stackThroughput(bytes, mtu));
    add({ key: `stack.mbps${mtu}`, what: `two ftcp stacks, in-memory link, MTU ${mtu}`, value: mbps, unit: 'MB/s', command: cmd('stack') });
    add({ key: `stack.ratio${mtu}`, what: `ftcp stack ÷ kernel loopback, MTU ${mtu}`, value: ratio(mbps, kernel), unit: '', command: cmd('stack') });
  }
}

/** Real processes over the UDP switch: a replicated pair against a lone server (throughput, CPU, latency), and log-channel bytes. */
async function benchReplicated(c: BenchContext): Promise<void> {
  const { o, say, add, cmd, details } = c;
  const quick = o.quick;
  const steady = STEADY_PAIR;
  const mb = quick ? 2 : 10;
  const reps = quick ? 1 : 5; // the first run of each is a warm-up in all but name (JIT, cwnd), so best of 2 was one sample
  say(`replicated: processes over the UDP switch; bulk ${mb} MB up and ${mb} MB down at once on one connection, best of ${reps}, through a lone server (--alone) and through a pair`);
  const t = await replicatedThroughput(mb * 1_000_000, reps, steady, say);
  c.replicatedMBps = t.replicatedMBps;
  add({ key: 'replicated.aloneMBps', what: 'bulk up+down through one unreplicated server', value: t.aloneMBps, unit: 'MB/s', command: cmd('replicated') });
  add({ key: 'replicated.pairMBps', what: 'bulk up+down through a replicated pair', value: t.replicatedMBps, unit: 'MB/s', command: cmd('replicated') });
  if (t.pairBroke) say('  note: a false failover split the pair during this measurement (the machine starved a replica for longer than D): part of it ran without a backup, so it is not a measurement of the pair');
  details['throughput'] = t;
  add({ key: 'replicated.throughputRatio', what: 'replicated ÷ unreplicated throughput', value: ratio(t.replicatedMBps, t.aloneMBps), unit: '', command: cmd('replicated') });
  // Where the CPU goes: with every core busy, throughput is cores ÷ CPU per MB,
  // so the ratio of the two totals is what replication can reach on this machine.
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
  const parts = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(' + ');
  if (Object.keys(t.aloneCpu).length > 1 && Object.keys(t.pairCpu).length > 1) {
    say(`  CPU ms per MB moved (median of ${reps}): alone ${parts(t.aloneCpu)} = ${total(t.aloneCpu).toFixed(1)}; pair ${parts(t.pairCpu)} = ${total(t.pairCpu).toFixed(1)}`);
    add({ key: 'replicated.aloneCpuMsPerMB', what: 'CPU of client, switch and server per MB, lone server', value: total(t.aloneCpu), unit: 'ms', command: cmd('replicated') });
    add({ key: 'replicated.pairCpuMsPerMB', what: 'CPU of client, switch, primary and backup per MB, pair', value: total(t.pairCpu), unit: 'ms', command: cmd('replicated') });
    add({ key: 'replicated.cpuRatio', what: 'alone ÷ pair CPU per MB: the throughput ratio when all cores are busy', value: ratio(total(t.aloneCpu), total(t.pairCpu)), unit: '', command: cmd('replicated') });
  }
  const requests = quick ? 300 : 2000;
  say(`  counter app, one connection, closed loop: ${requests} INCRs (after ${quick ? 50 : 200} unmeasured), lone server then pair`);
  const l = await latency(requests, quick ? 50 : 200, steady);
  details['latency'] = l;
  if (l.pairBroke) say('  note: a false failover split the pair during the latency run (the machine starved a replica for longer than D)');
  add({ key: 'replicated.aloneP50Us', what: 'counter round trip, lone server, p50', value: l.aloneP50Us, unit: 'µs', command: cmd('replicated') });
  add({ key: 'replicated.pairP50Us', what: 'counter round trip, replicated pair, p50', value: l.replicatedP50Us, unit: 'µs', command: cmd('replicated') });
  const overhead = l.replicatedP50Us - l.aloneP50Us;
  add({ key: 'logRttP50Us', what: `log channel append -> ack at the primary, p50 of ${l.logRttSamples}`, value: l.logRttP50Us, unit: 'µs', command: cmd('replicated') });
  add({ key: 'replicated.latencyOverheadP50Us', what: 'replicated p50 − unreplicated p50', value: overhead, unit: 'µs', command: cmd('replicated'), verdict: latencyVerdict(overhead, l.logRttP50Us), target: `<= 1.5 x logRtt = ${Number.isFinite(l.logRttP50Us) ? (1.5 * l.logRttP50Us).toFixed(0) : '?'} µs` });
  const up = quick ? 2 : 10;
  say(`  log channel: bulk upload only, ${up} MB, through a pair (bytes the primary sent on the log channel, heartbeats included)`);
  const b = await logBytes(up * 1_000_000, steady);
  details['log'] = b;
  if (b.pairBroke) say('  note: a false failover split the pair during the upload: entries after it were not logged, so this figure is too low');
  add({ key: 'log.bytesPerClientByte', what: 'log-channel bytes ÷ client bytes in, bulk upload', value: b.perClientByte, unit: '', command: cmd('replicated') });
}

/** kill -9 of the primary to the client's next byte from the backup, over fresh pairs. */
/** "; suspect +x, live +y, marked +z ms" (after the kill), the parts seen. */
function failoverSteps(t: FailoverTrial): string {
  const at = { ...t.steps, 'first byte after the mark': t.markedResumedMs };
  const parts = (['suspect', 'live', 'marked', 'first byte after the mark'] as const).filter((k) => at[k] !== null).map((k) => `${k} +${at[k]!.toFixed(1)}`);
  return parts.length === 0 ? '' : `; ${parts.join(', ')} ms`;
}

/** The failover trials' pair: the defaults, with --failure-timeout-max-ms and --failure-timeout-start-ms. */
export function failoverPair(o: Pick<BenchOptions, 'failureTimeoutMaxMs' | 'failureTimeoutStartMs'>): PairSettings {
  return {
    ...DEFAULT_PAIR,
    ...(o.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: o.failureTimeoutMaxMs } : {}),
    ...(o.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: o.failureTimeoutStartMs } : {}),
  };
}

async function benchFailover(c: BenchContext): Promise<void> {
  const { o, say, add, cmd, details } = c;
  const { trials } = o;
  const pair = failoverPair(o);
  const replicatedMBps = c.replicatedMBps;
  // A transfer of about a second: still running at the kill, over soon after the takeover.
  // Without the replicated group's rate: 20 MB each way, about a second for a pair moving
  // ~40 MB/s up + down (4 MB, the old default, was over before the kill at 250 ms once
  // segments grew to 64 KB, and the trial measured nothing).
  const bytes = Number.isFinite(replicatedMBps) ? Math.round(Math.min(50e6, Math.max(1e6, (replicatedMBps * 1e6) / 2))) : 20_000_000;
  const killAfterMs = 250;
  const bounds = `${pair.failureTimeoutMaxMs !== undefined ? `, Dmax ${pair.failureTimeoutMaxMs} ms` : ''}${pair.failureTimeoutStartMs !== undefined ? `, S ${pair.failureTimeoutStartMs} ms` : ''}`;
  say(`failover: ${trials} trial(s), each a fresh pair (H ${pair.heartbeatMs} ms, D ${pair.failureTimeoutMs} ms${bounds}) and \`ftcp client --app bulk\` (1 connection, ${bytes} B each way, every byte checked); kill -9 of the primary ${killAfterMs} ms into the load; the client at nice ${DEFAULT_NICE} like the cluster; figure: kill -> the client's first read at or after the backup's live line (both stamped on the machine's wall clock); the first byte after a mark sent at live is checked against the old primary's capture (beyond all it sent: the new primary's)`);
  const times: number[] = [];
  let broken = 0;
  let invalid = 0;
  let fromNew = 0;
  const trialDetails: unknown[] = [];
  // Trials split by a false failover before the kill measure nothing: they are run again, up to half as many again.
  for (let i = 0, valid = 0; valid < trials && i < trials + Math.ceil(trials / 2); i++) {
    if (c.interrupted !== undefined) break;
    let t: FailoverTrial;
    try {
      t = await failoverTrial(bytes, killAfterMs, pair);
    } catch (error) {
      // A cluster that did not start (a slow machine, a child that died at start) is no trial.
      const message = error instanceof Error ? error.message : String(error);
      trialDetails.push({ error: message });
      say(`    trial ${i + 1}: could not run: ${message}`);
      continue;
    }
    if (!t.invalid) valid++;
    trialDetails.push(t);
    if (t.invalid) invalid++;
    else if (t.resumedMs !== null) times.push(t.resumedMs);
    if (!t.invalid && t.fromNewPrimary === true) fromNew++;
    if (t.broken) broken++;
    say(`    trial ${i + 1} (${t.seconds.toFixed(1)} s): ${t.invalid ? 'false failover before the kill (not counted)' : `resumed ${t.resumedMs === null ? 'never' : `${t.resumedMs.toFixed(1)} ms`} after the kill${t.fromNewPrimary === true ? ' (a byte the old primary never sent)' : t.fromNewPrimary === false ? ' (a byte the old primary had sent too)' : ''}${failoverSteps(t)}`}${t.broken ? ', BROKEN stream' : ''}${t.problems.length > 0 ? `; ${t.problems[0]}` : ''}`);
  }
  details['failover'] = { bytes, killAfterMs, invalid, trials: trialDetails };
  const command = cmd('failover', o.trialsGiven ? ` --trials ${trials}` : '');
  add({ key: 'failover.p50Ms', what: 'kill -9 -> client next byte, p50', value: percentile(times, 50), unit: 'ms', command });
  add({ key: 'failover.p99Ms', what: 'kill -9 -> client next byte, p99', value: percentile(times, 99), unit: 'ms', command });
  add({ key: 'failover.trials', what: 'trials measured (false failovers before the kill excluded)', value: times.length, unit: '', command, target: '>= 30', verdict: times.length >= 30 ? 'met' : 'MISSED' });
  add({ key: 'failover.fromNewPrimary', what: 'trials whose first byte after the mark lay beyond all the old primary sent', value: fromNew, unit: '', command });
  add({ key: 'failover.broken', what: 'trials whose stream was not intact', value: broken, unit: '', command });
}

/** Idle connections held by a pair, memory per connection, survivors of a kill -9. */
async function benchScale(c: BenchContext): Promise<void> {
  const { o, say, add, cmd, details } = c;
  const { connections } = o;
  say(`scale: ${connections} idle counter connections through a pair of replica processes (H ${SCALE_PAIR.heartbeatMs} ms, D ${SCALE_PAIR.failureTimeoutMs} ms, Dmax ${SCALE_PAIR.failureTimeoutMaxMs} ms); each replica's RSS before and after; then kill -9 of the primary and one INCR on each connection`);
  const s = await scale(connections, SCALE_PAIR, say);
  details['scale'] = s;
  const command = cmd('scale', o.connectionsGiven ? ` --connections ${connections}` : '');
  const { primary, backup } = s.bytesPerConnection;
  add({ key: 'scale.connections', what: `idle connections ESTABLISHED through the pair (${s.clientAddresses} client address(es))`, value: s.connections, unit: '', command });
  add({ key: 'scale.connectPerSecond', what: 'handshakes completed per second while opening them', value: s.connectPerSecond, unit: '/s', command });
  // The larger of the two; the one measured when a replica exited before the reading (a false failover).
  const measured = [primary, backup].filter(Number.isFinite);
  add({ key: 'scale.bytesPerConnection', what: 'the larger replica RSS delta ÷ connections (primary, backup below)', value: measured.length > 0 ? Math.max(...measured) : NaN, unit: 'B (RSS)', command });
  add({ key: 'scale.bytesPerConnection.primary', what: 'primary RSS delta ÷ connections', value: primary, unit: 'B (RSS)', command });
  add({ key: 'scale.bytesPerConnection.backup', what: 'backup RSS delta ÷ connections', value: backup, unit: 'B (RSS)', command });
  add({ key: 'scale.failoverMs', what: 'kill -9 of the primary -> the backup live', value: s.failoverMs, unit: 'ms', command });
  add({ key: 'scale.survived', what: 'connections answered rightly by the backup after kill -9 of the primary (each INCR a new value in 1..n)', value: s.survived, unit: '', command, target: `all (${s.connections})`, verdict: s.survived >= s.connections && s.connections > 0 ? 'met' : 'MISSED' });
}

/** The kernel's TCP through TUN to a lone ftcp server, against kernel to kernel, in a network namespace. */
async function benchKernel(c: BenchContext): Promise<void> {
  const { o, say, add, cmd, details } = c;
  const quick = o.quick;
  const mb = quick ? 5 : 20;
  if (o.netnsInner !== undefined) {
    details['kernel'] = await kernelInner(mb * 1_000_000, say);
    return;
  }
  say(`kernel: in a network namespace, Node net (the kernel's TCP) moves ${mb} MB up and ${mb} MB down at once on one connection: through the TUN bridge (socat) and the switch to a lone ftcp server, then to a kernel server in the same namespace`);
  const k = await kernelOuter(quick, say);
  if ('skipped' in k) {
    say(`  kernel.ratio skipped: ${k.skipped}`);
    details['kernelSkipped'] = k.skipped;
    return;
  }
  details['kernel'] = k;
  add({ key: 'kernel.tunMBps', what: 'kernel client through TUN to a lone ftcp server', value: k.tunMBps, unit: 'MB/s', command: cmd('kernel') });
  add({ key: 'kernel.kernelMBps', what: 'kernel to kernel in the namespace', value: k.kernelMBps, unit: 'MB/s', command: cmd('kernel') });
  add({ key: 'kernel.ratio', what: 'kernel through TUN to ftcp ÷ kernel to kernel', value: k.ratio, unit: '', command: cmd('kernel'), target: 'report' });
}
