/**
 * `ftcp experiment modes --real`: the output modes (src/replica/output-mode.ts) with real
 * replica processes on loopback (live-cluster.ts), a smaller set than the simulator's. Each
 * trial, per workload and mode:
 *
 *   1. a pair (a primary, b its backup, both in the mode; b dials a through a relay this
 *      process controls) serves the in-process load (experiment-load.ts); after a warm-up,
 *      a steady window gives throughput and request latency (wall clock);
 *   2. the relay starts losing a's frames to b, as if a had died before they left it (the
 *      log lags the output), for less than the failure timeout D;
 *   3. kill -9 of a. When b suspects it, the client's connections are read: what each had
 *      received and had seen acknowledged. b goes live;
 *   4. the load goes on a moment, then finishes: broken streams, resets, counter repeats and
 *      gaps. From b's shadow capture up to its go-live: sequence space the client had received
 *      that b never produced (output lost), had seen acknowledged that b never received
 *      (input lost), and connections b had no packet of.
 *
 * A trial in which b suspected a before the kill (a false failover on a busy machine) is
 * not a measurement: it is counted apart.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readPcapng } from '../pcap/reader.js';
import type { OutputMode } from '../replica/output-mode.js';
import { parseTcpPacket } from '../wire/packet.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { seqDiff } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_SYN } from '../wire/tcp.js';
import { wallClockMs } from '../net/clock.js';
import { ANOMALY_COUNTS, MODE_WHY, percentile, round, type AnomalyCounts } from '../sim/experiment-modes.js';
import { BenchClient } from './bench-client.js';
import { ModesLoad, type ConnSnapshot, type ModesLoadWorkload } from './experiment-load.js';
import { DEMO_MTU, LiveCluster, replicaCapturePaths } from './live-cluster.js';
import { TcpRelay } from './tcp-relay.js';
import type { ChildEvent } from '../net/events.js';

export const REAL_WORKLOADS: Record<ModesLoadWorkload, { what: string; app: 'counter' | 'bulk'; connections: number }> = {
  counter: { what: '3 connections, each a closed loop of INCR requests; every answer must be the next integer', app: 'counter', connections: 3 },
  upload: { what: '2 connections of the bulk app uploading without pause (the server acknowledges with pure ACKs), then reading its 20 KB answer', app: 'bulk', connections: 2 },
};
export const REAL_WORKLOAD_NAMES = Object.keys(REAL_WORKLOADS) as ModesLoadWorkload[];

export interface RealModesOptions {
  modes: OutputMode[];
  workloads: ModesLoadWorkload[];
  trials: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Run folders go under <captureDir>/experiment-modes-real/. */
  captureDir: string;
  /** Progress lines (stderr). */
  say?: (text: string) => void;
}

export const REAL_DEFAULTS = { trials: 3, heartbeatMs: 30, failureTimeoutMs: 300, warmMs: 300, steadyMs: 1000, afterLiveMs: 500, settleMs: 2000 } as const;

export interface RealTrial extends AnomalyCounts {
  trial: number;
  dir: string;
  /** b suspected a before the kill: not a measurement. */
  invalid: boolean;
  /** Steady window: client payload bytes both ways per second, answers per second. */
  throughputKBps: number;
  requestsPerS?: number;
  /** Milliseconds from the kill to b's go-live (wall clock), null: never. */
  liveMs: number | null;
  anomaly: boolean;
  first?: string;
  latenciesUs: number[];
}

/** Per workload and mode: the counts are sums over the measured trials. */
export interface RealModeRow extends AnomalyCounts {
  workload: ModesLoadWorkload;
  mode: OutputMode;
  /** Trials measured (false failovers before the kill left out) and those left out. */
  trials: number;
  invalidTrials: number;
  throughputKBps: number;
  requestsPerS?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Mean milliseconds from the kill to b's go-live. */
  liveMs: number | null;
  /** Trials whose failover showed an anomaly, of `trials`. */
  anomalyTrials: number;
  /** The first anomaly in words, and where its trial's captures are. */
  first?: string;
  firstDir?: string;
}

export interface RealModesReport {
  options: { modes: OutputMode[]; workloads: ModesLoadWorkload[]; trials: number; heartbeatMs: number; failureTimeoutMs: number; loseMs: number; steadyMs: number; mtu: number };
  rows: RealModeRow[];
  why: Partial<Record<OutputMode, string>>;
  /** An unsafe mode that showed no anomaly in any measured trial of a workload, and why, where known. */
  notes: string[];
  /** Where the trials' captures are. */
  dir: string;
}

/** Why an unsafe mode may show nothing on real processes, by mode and workload. */
const QUIET: Partial<Record<OutputMode, Partial<Record<ModesLoadWorkload, string>>>> = {
  'ack-on-receipt': {
    counter: 'the log channel here is one TCP connection, which never loses a frame while delivering a later one, so the gap this mode acknowledges past does not form (the simulator\'s lossy channel makes it)',
    upload: 'the log channel here is one TCP connection, which never loses a frame while delivering a later one, so the gap this mode acknowledges past does not form (the simulator\'s lossy channel makes it)',
  },
  'acks-at-once': {
    counter: 'each answer carries the ACK of its request, and answers wait: no pure ACK went ahead of its entry (the upload shows the mode\'s anomaly)',
  },
};

function quietNotes(rows: readonly RealModeRow[]): string[] {
  return rows
    .filter((r) => r.mode !== 'output-rule' && r.trials > 0 && r.anomalyTrials === 0)
    .map((r) => `${r.mode} showed no anomaly with ${r.workload} in ${r.trials} of ${r.trials} trial(s)${QUIET[r.mode]?.[r.workload] !== undefined ? `: ${QUIET[r.mode]![r.workload]!}` : ': it may show one only sometimes here; more --trials tell'}`);
}

const SERVICE = parseIpv4Addr('192.0.2.10');

/** The lose window: shorter than D minus a heartbeat, so b does not suspect a before the kill (as the demo's in-flight.ts). */
export function loseMsOf(heartbeatMs: number, failureTimeoutMs: number): number {
  return Math.max(1, Math.round((failureTimeoutMs - heartbeatMs) / 2));
}

export async function runRealModes(o: RealModesOptions): Promise<RealModesReport> {
  const dir = join(o.captureDir, 'experiment-modes-real');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rows: RealModeRow[] = [];
  for (const workload of o.workloads) {
    for (const mode of o.modes) {
      const trials: RealTrial[] = [];
      for (let t = 1; t <= o.trials; t++) {
        const trial = await runTrial(workload, mode, t, o, join(dir, `${workload}-${mode}-${t}`));
        o.say?.(`${workload} ${mode} trial ${t}: ${trial.invalid ? 'false failover before the kill, left out' : trial.anomaly ? `ANOMALY: ${trial.first ?? 'see the counts'}` : 'no anomaly'}`);
        trials.push(trial);
      }
      rows.push(aggregate(workload, mode, trials));
    }
  }
  const why: Partial<Record<OutputMode, string>> = {};
  for (const m of o.modes) why[m] = MODE_WHY[m];
  return {
    options: { modes: o.modes, workloads: o.workloads, trials: o.trials, heartbeatMs: o.heartbeatMs, failureTimeoutMs: o.failureTimeoutMs, loseMs: loseMsOf(o.heartbeatMs, o.failureTimeoutMs), steadyMs: REAL_DEFAULTS.steadyMs, mtu: DEMO_MTU },
    rows,
    why,
    notes: quietNotes(rows),
    dir,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runTrial(workload: ModesLoadWorkload, mode: OutputMode, trial: number, o: RealModesOptions, dir: string): Promise<RealTrial> {
  mkdirSync(dir, { recursive: true });
  const w = REAL_WORKLOADS[workload];
  let killed = false;
  let invalid = false;
  let onSuspect: (() => void) | undefined;
  const onEvent = (label: string, e: ChildEvent) => {
    if (!label.startsWith('replica ')) return;
    if (!killed && (e.event === 'suspect' || e.event === 'fenced' || e.event === 'stopped')) invalid = true;
    if (killed && label === 'replica b' && e.event === 'suspect') onSuspect?.();
  };
  const cluster = new LiveCluster({
    dir,
    app: w.app,
    seed: trial,
    bulkBytes: 20_000,
    heartbeatMs: o.heartbeatMs,
    failureTimeoutMs: o.failureTimeoutMs,
    unsafeNoOutputRule: false,
    ...(mode !== 'output-rule' ? { unsafeOutputMode: mode } : {}),
    mtu: DEMO_MTU,
    onEvent,
  });
  let relay: TcpRelay | undefined;
  let client: BenchClient | undefined;
  const zero = Object.fromEntries(ANOMALY_COUNTS.map((k) => [k, 0])) as Record<keyof AnomalyCounts, number>;
  const out: RealTrial = { trial, dir, invalid: false, throughputKBps: 0, liveMs: null, ...zero, anomaly: false, latenciesUs: [] };
  const problems: string[] = [];
  let stopped = false;
  try {
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    relay = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: cluster.logPorts.get('a')! });
    const b = await cluster.startReplica('b', 'backup', 'a', undefined, {}, relay.local.port);
    await a.waitFor((e) => e.event === 'registered', 20_000, 'the switch\'s confirmation of the service address');
    client = await BenchClient.open({ switchAt: { host: '127.0.0.1', port: cluster.switchPort }, address: parseIpv4Addr('192.0.2.1'), service: SERVICE, servicePort: 7070, seed: trial, clusterKey: cluster.clusterKey });
    const load = new ModesLoad(client, workload, w.connections);
    await load.start();
    await sleep(REAL_DEFAULTS.warmMs);
    // 1. the steady window
    const bytes0 = load.bytes();
    const t0 = performance.now();
    load.measuring = true;
    await sleep(REAL_DEFAULTS.steadyMs);
    load.measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    out.throughputKBps = round((load.bytes() - bytes0) / 1000 / seconds, 1);
    if (workload === 'counter') out.requestsPerS = round(load.latenciesUs.length / seconds, 1);
    out.latenciesUs = load.latenciesUs;
    if (invalid) return { ...out, invalid: true };
    // 2. the log lags the output: a's frames to b are lost from here on
    if (relay.gate('fromTarget', 'drop') === 0) throw new Error('the log channel was not open through the relay');
    await sleep(loseMsOf(o.heartbeatMs, o.failureTimeoutMs));
    if (invalid) return { ...out, invalid: true };
    // 3. the kill; the client's view when b suspects a
    let atSuspect: ConnSnapshot[] | undefined;
    const suspected = new Promise<void>((resolve) => {
      onSuspect = () => {
        atSuspect ??= load.snapshot();
        resolve();
      };
    });
    killed = true;
    const killAt = wallClockMs();
    a.signal('SIGKILL');
    const live = await b.waitFor((e) => e.event === 'live', 10 * o.failureTimeoutMs + 10_000, 'its go-live').catch((error: unknown) => {
      problems.push(error instanceof Error ? error.message : String(error));
      return undefined;
    });
    await Promise.race([suspected, sleep(1000)]);
    const liveAt = typeof live?.['atMs'] === 'number' ? live['atMs'] : undefined;
    if (liveAt !== undefined) out.liveMs = round(liveAt - killAt, 1);
    // 4. the load goes on, then finishes
    await sleep(REAL_DEFAULTS.afterLiveMs);
    const end = await load.finish(REAL_DEFAULTS.settleMs);
    problems.push(...end.problems);
    out.brokenStreams = end.broken;
    out.resets = load.resets;
    const answers = load.answers;
    const distinct = new Set(answers);
    out.counterRepeats = answers.length - distinct.size;
    out.counterGaps = answers.reduce((m, v) => Math.max(m, v), 0) - distinct.size;
    if (out.counterRepeats > 0) problems.push(`counter: ${out.counterRepeats} answer(s) repeated`);
    if (out.counterGaps > 0) problems.push(`counter: ${out.counterGaps} number(s) skipped`);
    await client.close();
    client = undefined;
    await cluster.stop(); // b's captures complete
    stopped = true;
    if (atSuspect !== undefined && liveAt !== undefined) {
      const lost = lostAtGoLive(atSuspect, replicaCapturePaths(dir, 'b').shadow, liveAt);
      out.outputLostBytes = lost.output;
      out.inputLostBytes = lost.input;
      out.missingConnections = lost.missing;
      if (lost.first !== undefined) problems.unshift(lost.first);
    }
  } catch (error) {
    problems.push(`the trial did not run to its end: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await client?.close();
    await relay?.close();
    if (!stopped) await cluster.stop();
  }
  out.anomaly = problems.length > 0;
  if (problems.length > 0) out.first = problems[0]!;
  return out;
}

/**
 * What the client held (at b's suspicion, after the kill) that b had not, from b's shadow
 * capture up to its go-live: per connection, sequence space received beyond what b produced,
 * and acknowledged beyond what b received (the ACK of b's last segment).
 */
export function lostAtGoLive(client: readonly ConnSnapshot[], shadowPath: string, liveAtMs: number): { output: number; input: number; missing: number; first?: string } {
  const made = new Map<number, { end: number; ack: number | undefined }>();
  if (existsSync(shadowPath)) {
    for (const p of readPcapng(new Uint8Array(readFileSync(shadowPath))).packets) {
      if (p.timestampUs > liveAtMs * 1000) continue;
      const r = parseTcpPacket(p.data, false);
      if (!r.ok) continue;
      const s = r.segment;
      const end = (s.seq + s.payload.length + (s.flags & TCP_SYN ? 1 : 0) + (s.flags & TCP_FIN ? 1 : 0)) >>> 0;
      const m = made.get(s.dstPort);
      const ack = s.flags & TCP_ACK ? s.ack : undefined;
      if (m === undefined) made.set(s.dstPort, { end, ack });
      else {
        if (seqDiff(end, m.end) > 0) m.end = end;
        if (ack !== undefined && (m.ack === undefined || seqDiff(ack, m.ack) > 0)) m.ack = ack;
      }
    }
  }
  const out: { output: number; input: number; missing: number; first?: string } = { output: 0, input: 0, missing: 0 };
  for (const c of client) {
    if (c.state === 'SYN-SENT' || c.state === 'CLOSED') continue;
    const m = made.get(c.localPort);
    if (m === undefined) {
      out.missing++;
      out.first ??= `client port ${c.localPort}: the client had received ${c.got} and had acknowledged ${c.acked} of sequence space; b has no packet of that connection`;
      continue;
    }
    const o = Math.max(0, seqDiff(c.rcvNxt, m.end));
    const i = m.ack === undefined ? c.acked : Math.max(0, seqDiff(c.sndUna, m.ack));
    out.output += o;
    out.input += i;
    if (o + i > 0) out.first ??= `client port ${c.localPort}: the client had received ${o} byte(s) of sequence space b never produced and had seen ${i} acknowledged that b never received`;
  }
  return out;
}

function aggregate(workload: ModesLoadWorkload, mode: OutputMode, trials: RealTrial[]): RealModeRow {
  const valid = trials.filter((t) => !t.invalid);
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const lat = valid.flatMap((t) => t.latenciesUs).sort((a, b) => a - b);
  const lives = valid.map((t) => t.liveMs).filter((v): v is number => v !== null);
  const firstBad = valid.find((t) => t.anomaly);
  const counts = Object.fromEntries(ANOMALY_COUNTS.map((k) => [k, valid.reduce((n, t) => n + t[k], 0)])) as Record<keyof AnomalyCounts, number>;
  const row: RealModeRow = {
    workload,
    mode,
    trials: valid.length,
    invalidTrials: trials.length - valid.length,
    throughputKBps: round(mean(valid.map((t) => t.throughputKBps)), 1),
    liveMs: lives.length === 0 ? null : round(mean(lives), 1),
    anomalyTrials: valid.filter((t) => t.anomaly).length,
    ...counts,
  };
  if (workload === 'counter' && valid.length > 0) row.requestsPerS = round(mean(valid.map((t) => t.requestsPerS ?? 0)), 1);
  if (lat.length > 0) {
    row.p50Ms = round(percentile(lat, 0.5) / 1000, 2);
    row.p99Ms = round(percentile(lat, 0.99) / 1000, 2);
  }
  if (firstBad?.first !== undefined) {
    row.first = firstBad.first;
    row.firstDir = firstBad.dir;
  }
  return row;
}
