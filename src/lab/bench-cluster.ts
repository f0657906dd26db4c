/**
 * The process-level measurements of `ftcp bench`: real replicas, the switch and
 * the arbiter as child processes on loopback (live-cluster.ts), measured with the
 * in-process BenchClient (bench-client.ts) or with `ftcp client` (the failover trials,
 * whose streams it checks byte for byte).
 *
 *   replicatedThroughput   bulk up+down through a replicated pair ÷ through one
 *                          unreplicated server (`--alone`), same run
 *   logBytes               log-channel bytes the primary sent ÷ client bytes in, upload only
 *   latency                counter app, one connection, closed loop: p50 replicated − p50
 *                          alone; the primary's log round trip (append → ack) p50
 *   failoverTrials         kill -9 of the primary → the client's first byte from the backup
 *   (scale: bench-scale.ts)
 *
 * Every cluster is stopped (each child by pid) before a function returns or throws;
 * `stopAllClusters()` is for Ctrl-C.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppName } from '../proxy/app.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { BenchClient } from './bench-client.js';
import { percentile } from '../net/log-rtt.js';
import type { Child } from './children.js';
import type { ChildEvent, ClientResult, EventOf } from '../net/events.js';
import { wallClockMs } from '../net/clock.js';
import { checkBulkUploads, LiveCluster, type LiveClusterOptions } from './live-cluster.js';
import { sentStreamEnd } from './bench-failover-mark.js';
import { pauseAcross, READ_GAP_MS, readGapsOf } from './read-gaps.js';
import { DEFAULT_NICE } from '../net/priority.js';
import type { ReplicaExtra } from './launch.js';

export const SERVICE = parseIpv4Addr('192.0.2.10');
export const SERVICE_PORT = 7070;
const active = new Set<LiveCluster>();
let runDir: string | undefined;

export interface PairSettings {
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax of the failure detectors; none: D. */
  failureTimeoutMaxMs?: number;
  /** S, the detectors' start-up allowance; none: the replica's default. */
  failureTimeoutStartMs?: number;
}

export const DEFAULT_PAIR: PairSettings = { heartbeatMs: 10, failureTimeoutMs: 50 };
/**
 * The steady-state measurements (throughput, latency, log bytes, scale) do not depend on D,
 * but on a busy 2-core machine a replica starved for longer than D = 50 ms is taken for dead
 * by its peer (a false failover), and the rest of the measurement runs without a backup. They
 * run with D = 200 ms (the README's advice for loaded machines); the failover trials use the
 * defaults.
 */
export const STEADY_PAIR: PairSettings = { heartbeatMs: 10, failureTimeoutMs: 200 };
/**
 * The scale group holds a pair busy for minutes (100,000 handshakes, then as many requests
 * at once after the failover) on a machine other work shares, where a replica with a
 * 300 MB heap was seen unscheduled for more than a second (a false failover at D = 1 s). It
 * measures memory and survival, not the failover's speed: D = 1 s, and the adaptive
 * detector may stretch it up to 5 s after the stalls it has seen (failure-detector.ts). Its
 * failover time is about that timeout, and says so.
 */
export const SCALE_PAIR: PairSettings = { heartbeatMs: 25, failureTimeoutMs: 1000, failureTimeoutMaxMs: 5000 };

function dir(): string {
  runDir ??= mkdtempSync(join(tmpdir(), 'ftcp-bench-'));
  return runDir;
}

/** Stops every cluster still running (Ctrl-C, errors) and removes the run directory. */
export async function stopAllClusters(): Promise<void> {
  await Promise.all([...active].map((c) => c.stop().catch(() => undefined)));
  active.clear();
  if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  runDir = undefined;
}

export interface Running {
  cluster: LiveCluster;
  primary: Child;
  backup: Child | undefined;
}

/** Arbiter, switch and either a lone primary (`--alone`) or a primary and its backup; no captures (`primaryCaptures`: the primary's only). */
export async function startCluster(app: AppName, bulkBytes: number, replicated: boolean, pair: PairSettings, onEvent?: (label: string, e: ChildEvent) => void, switchOptions?: LiveClusterOptions['switchOptions'], replicaExtra: ReplicaExtra = {}, primaryCaptures = false): Promise<Running> {
  const sub = mkdtempSync(join(dir(), `${app}-`));
  const cluster = new LiveCluster({ ...pairClusterOptions(sub, app, bulkBytes, pair), ...(onEvent !== undefined ? { onEvent } : {}), ...(switchOptions !== undefined ? { switchOptions } : {}) });
  active.add(cluster);
  try {
    await cluster.startNetwork();
    const primary = await cluster.startReplica('a', 'primary', 'b', undefined, { captureDir: primaryCaptures ? sub : false, ...replicaExtra, ...(replicated ? {} : { alone: true }) });
    const backup = replicated ? await cluster.startReplica('b', 'backup', 'a', 'a', { captureDir: false, ...replicaExtra }) : undefined;
    await primary.waitFor((e) => e.event === 'registered', 20_000, 'the switch\'s confirmation of the service address');
    return { cluster, primary, backup };
  } catch (error) {
    await stopCluster(cluster);
    throw error;
  }
}

/** A bench pair's cluster in `dir`: the app, the pair's timing; starts nothing. */
export function pairClusterOptions(dir: string, app: AppName, bulkBytes: number, pair: PairSettings): LiveClusterOptions {
  return {
    dir,
    app,
    seed: 1,
    bulkBytes,
    heartbeatMs: pair.heartbeatMs,
    failureTimeoutMs: pair.failureTimeoutMs,
    ...(pair.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: pair.failureTimeoutMaxMs } : {}),
    ...(pair.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: pair.failureTimeoutStartMs } : {}),
    unsafeNoOutputRule: false,
  };
}

export async function stopCluster(cluster: LiveCluster): Promise<void> {
  active.delete(cluster);
  await cluster.stop();
}

async function withClient<T>(r: Running, address: string, fn: (c: BenchClient) => Promise<T>): Promise<T> {
  const client = await BenchClient.open({ switchAt: { host: '127.0.0.1', port: r.cluster.switchPort }, address: parseIpv4Addr(address), service: SERVICE, servicePort: SERVICE_PORT, seed: 7, clusterKey: r.cluster.clusterKey });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A replica of the pair suspected the other during a measurement (a false failover on a busy machine). */
export function pairBroke(r: Running): boolean {
  return [r.primary, r.backup].some((c) => c?.events.some((e) => e.event === 'suspect') === true);
}

/** SIGTERMs a replica and returns the stats of its `exit` line. */
async function exitStats(c: Child): Promise<Record<string, unknown> | undefined> {
  await c.stop();
  return c.events.find((e) => e.event === 'exit')?.stats;
}

/** CPU milliseconds per MB moved, by process, median over the repetitions (Linux /proc; empty elsewhere). */
export type CpuPerMB = Record<string, number>;

export interface ThroughputResult {
  aloneMBps: number;
  replicatedMBps: number;
  bytesEachWay: number;
  reps: number;
  /** The pair lost a replica to a false failover during the measurement: it partly ran alone. */
  pairBroke: boolean;
  aloneCpu: CpuPerMB;
  pairCpu: CpuPerMB;
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat; undefined off Linux or once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in USER_HZ (100 on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function medianCpu(rows: CpuPerMB[]): CpuPerMB {
  const out: CpuPerMB = {};
  for (const k of Object.keys(rows[0] ?? {})) out[k] = percentile(rows.map((r) => r[k]!), 50);
  return out;
}

/** Bulk upload and download at once on one connection, `reps` times each, the best MB/s (both directions counted). */
export async function replicatedThroughput(bytes: number, reps: number, pair: PairSettings, say: (s: string) => void): Promise<ThroughputResult> {
  let broke = false;
  const run = async (replicated: boolean) => {
    const r = await startCluster('bulk', bytes, replicated, pair);
    const pids: Record<string, number> = replicated ? { primary: r.primary.pid, backup: r.backup!.pid, switch: r.cluster.switch.pid } : { server: r.primary.pid, switch: r.cluster.switch.pid };
    try {
      return await withClient(r, '192.0.2.1', async (client) => {
        const rates: number[] = [];
        const cpu: CpuPerMB[] = [];
        for (let i = 0; i < reps; i++) {
          const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
          const self = process.cpuUsage();
          const t = await client.bulk(bytes, 120_000);
          const selfUs = process.cpuUsage(self);
          const mb = (t.uploaded + t.downloaded) / 1e6;
          rates.push(mb / t.seconds);
          const row: CpuPerMB = { client: (selfUs.user + selfUs.system) / 1000 / mb };
          for (const [k, pid] of Object.entries(pids)) {
            const a = before[k];
            const b = processCpuSeconds(pid);
            if (a !== undefined && b !== undefined) row[k] = ((b - a) * 1000) / mb;
          }
          cpu.push(row);
          say(`    ${replicated ? 'replicated' : 'alone     '} bulk #${i + 1}: ${t.uploaded} B up + ${t.downloaded} B down in ${t.seconds.toFixed(2)} s = ${rates.at(-1)!.toFixed(1)} MB/s; CPU ms/MB ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
        }
        // Best of the repetitions: other work on the machine only ever slows a run down.
        return { mbps: Math.max(...rates), cpu: medianCpu(cpu) };
      });
    } finally {
      if (replicated) broke = pairBroke(r);
      await stopCluster(r.cluster);
    }
  };
  const alone = await run(false);
  const repl = await run(true);
  return { aloneMBps: alone.mbps, replicatedMBps: repl.mbps, bytesEachWay: bytes, reps, pairBroke: broke, aloneCpu: alone.cpu, pairCpu: repl.cpu };
}

/** Upload only (the server sends 1 byte): log-channel bytes the primary sent ÷ bytes the client uploaded. */
export async function logBytes(upload: number, pair: PairSettings): Promise<{ logBytes: number; clientBytes: number; perClientByte: number; pairBroke: boolean }> {
  const r = await startCluster('bulk', 1, true, pair);
  try {
    const t = await withClient(r, '192.0.2.1', (client) => client.bulk(upload, 120_000));
    const broke = pairBroke(r);
    const stats = await exitStats(r.primary);
    const sent = ((stats?.['logChannel'] as Record<string, unknown> | null | undefined)?.['bytesSent'] as number | undefined) ?? NaN;
    return { logBytes: sent, clientBytes: t.uploaded, perClientByte: sent / t.uploaded, pairBroke: broke };
  } finally {
    await stopCluster(r.cluster);
  }
}

export interface LatencyResult {
  aloneP50Us: number;
  replicatedP50Us: number;
  aloneP99Us: number;
  replicatedP99Us: number;
  logRttP50Us: number;
  logRttSamples: number;
  requests: number;
  pairBroke: boolean;
}

/** Counter app, one connection, closed loop, `requests` INCRs after `warm` unmeasured ones. */
export async function latency(requests: number, warm: number, pair: PairSettings): Promise<LatencyResult> {
  const run = async (replicated: boolean) => {
    const r = await startCluster('counter', 1, replicated, pair);
    try {
      const rtts = await withClient(r, '192.0.2.1', async (client) => {
        await client.counterLoop(warm, 60_000);
        return client.counterLoop(requests, 120_000);
      });
      const broke = pairBroke(r);
      const stats = await exitStats(r.primary);
      const logRtt = stats?.['logRtt'] as { samples: number; p50Us: number | null } | undefined;
      return { p50: percentile(rtts, 50), p99: percentile(rtts, 99), logRttP50Us: logRtt?.p50Us ?? NaN, logRttSamples: logRtt?.samples ?? 0, broke };
    } finally {
      await stopCluster(r.cluster);
    }
  };
  const alone = await run(false);
  const repl = await run(true);
  return { aloneP50Us: alone.p50, replicatedP50Us: repl.p50, aloneP99Us: alone.p99, replicatedP99Us: repl.p99, logRttP50Us: repl.logRttP50Us, logRttSamples: repl.logRttSamples, requests, pairBroke: repl.broke };
}

export interface FailoverTrial {
  /** Kill -> the client's first read at or after the backup's `live` (both wall clocks), ms; null when it read nothing after. */
  resumedMs: number | null;
  /** Kill -> the first byte the client read after the SIGUSR1 mark (the mark's own delay inside), ms. */
  markedResumedMs: number | null;
  /**
   * The first byte read after the mark lay beyond everything the old primary put on the
   * wire (its capture), so the new primary sent it (bench-failover-mark.ts); null when
   * unknown (no byte after the mark, no offset, no capture).
   */
  fromNewPrimary: boolean | null;
  broken: boolean;
  /** The backup took over before the kill (a false failover on a busy machine): not a measurement. */
  invalid: boolean;
  problems: string[];
  seconds: number;
  /**
   * Wall-clock steps after the kill, ms: the backup's suspicion and its live line (its
   * own clock), and the moment this process marked the client (SIGUSR1); null when not seen.
   */
  steps: { suspect: number | null; live: number | null; marked: number | null };
}

/**
 * One trial: a pair serving `ftcp client --app bulk` (one connection, `bytes` each way; the
 * client at the cluster's priority, stamping the gaps in its own reads); kill -9 of the
 * primary `killAfterMs` after the client started. Figure: the client's first read at or
 * after the backup's `live` line (it has claimed the service address and sent its first
 * packets) − the kill, all on the machine's one wall clock, so no signal to the client sits
 * inside it (read-gaps.ts). The client is also marked (SIGUSR1) at `live` and reports the
 * stream offset of the first byte it reads after the mark; that offset, checked against the
 * old primary's capture, says whether the new primary sent it (bench-failover-mark.ts).
 */
export async function failoverTrial(bytes: number, killAfterMs: number, pair: PairSettings): Promise<FailoverTrial> {
  const startedAt = performance.now();
  const problems: string[] = [];
  let killAtMs: number | undefined;
  let client: Child | undefined;
  let invalid = false;
  // Set when the trial begins stopping the pair: the replica that exits first closes the log
  // channel and the other suspects it at once. That is the stop, not a split before the kill.
  let stopping = false;
  const at = { suspect: null as number | null, live: null as number | null, marked: null as number | null };
  const onEvent = (label: string, e: ChildEvent) => {
    if (label !== 'replica b' && label !== 'replica a') return;
    if (killAtMs === undefined && !stopping && (e.event === 'suspect' || e.event === 'fenced' || e.event === 'stopped')) invalid = true;
    if (killAtMs === undefined || label !== 'replica b') return;
    if (e.event === 'suspect' && at.suspect === null) at.suspect = e.atMs;
    if (e.event === 'live' && !marked) {
      at.live = e.atMs;
      marked = true;
      at.marked = wallClockMs();
      client?.signal('SIGUSR1');
    }
  };
  let marked = false;
  // The primary's capture tells what it put on the wire before it died (bench-failover-mark.ts).
  const r = await startCluster('bulk', bytes, true, pair, onEvent, undefined, {}, true);
  let resumedMs: number | null = null;
  let markedResumedMs: number | null = null;
  let resumedOffset: number | undefined;
  let result: ClientResult | undefined;
  let backupExit: EventOf<'exit'> | undefined;
  try {
    client = await r.cluster.startClient('client', { connections: 1, uploadBytes: bytes, progressMs: 0, timeoutMs: 60_000, readGapsMs: READ_GAP_MS, nice: DEFAULT_NICE });
    const finishedEarly = await Promise.race([new Promise<boolean>((res) => setTimeout(() => res(false), killAfterMs)), client.exited.then(() => true)]);
    if (finishedEarly) {
      problems.push(`the transfer finished before the kill at ${killAfterMs} ms`);
    } else if (invalid) {
      // The pair already split (no backup left to take over): a kill now measures nothing.
      problems.push('a false failover split the pair before the kill (the machine starved a replica for longer than D)');
      client.signal('SIGTERM');
    } else {
      killAtMs = wallClockMs();
      r.primary.signal('SIGKILL');
      const resumed = await client.waitFor((e) => e.event === 'resumed', 10_000, 'its first byte after the failover').catch((error: unknown) => {
        problems.push(error instanceof Error ? error.message : String(error));
        return undefined;
      });
      if (resumed !== undefined) {
        markedResumedMs = resumed.atMs - killAtMs;
        resumedOffset = resumed.offset;
      }
    }
    result = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    if (killAtMs !== undefined && at.live !== null) {
      const gaps = readGapsOf(result);
      if (typeof gaps === 'string') problems.push(gaps);
      else {
        const seen = pauseAcross(gaps, killAtMs, at.live);
        if (seen.resumedAtMs === null) problems.push('the client read nothing after the backup went live');
        else resumedMs = seen.resumedAtMs - killAtMs;
      }
    }
    if (r.backup !== undefined) {
      stopping = true;
      await r.backup.stop();
      backupExit = r.backup.events.find((e) => e.event === 'exit');
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    stopping = true;
    await stopCluster(r.cluster);
  }
  const oldEnd = resumedOffset === undefined ? undefined : sentStreamEnd(r.cluster.capturePaths('a').wire, SERVICE_PORT);
  const fromNewPrimary = resumedOffset === undefined || oldEnd === undefined ? null : resumedOffset >= oldEnd;
  const clientOk = result?.ok === true;
  if (result !== undefined) for (const p of result.problems) problems.push(`client: ${p}`);
  const uploadProblems = result !== undefined && killAtMs !== undefined ? checkBulkUploads(result, backupExit) : [];
  problems.push(...uploadProblems);
  // A trial whose pair split before the kill was stopped early: its stream is unfinished, not broken.
  const after = (t: number | null): number | null => (t === null || killAtMs === undefined ? null : t - killAtMs);
  const steps = { suspect: after(at.suspect), live: after(at.live), marked: after(at.marked) };
  return { resumedMs, markedResumedMs, fromNewPrimary, broken: !invalid && (!clientOk || uploadProblems.length > 0), invalid, problems, seconds: (performance.now() - startedAt) / 1000, steps };
}

/** VmRSS of a process from /proc, bytes; NaN when unreadable. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]) * 1024;
  } catch {
    return NaN;
  }
}

