/**
 * The `lan` group of `ftcp bench` (not in --quick: it builds network namespaces): throughput
 * through the pair beside the kernel's own TCP over the same bridge (bench-lan-throughput.ts),
 * and failover time on the LAN lab (lan-cluster.ts), a replicated pair behind TAP devices on a Linux
 * bridge with the kernel's TCP as the client on a host of its own. Each trial is a fresh
 * LAN: the counter app, one `ftcp kernel-client` connection (Node net, every answer
 * checked), kill -9 of the primary while it runs. The figure is kill -> the client's first
 * byte read after the backup suspected the primary (SIGUSR1 to the client at the suspicion,
 * as the failover group measures on loopback), so it includes D, the gratuitous ARP and the
 * bridge learning the MAC on the new port. Trials split by a false failover before the kill
 * measure nothing and are not counted. Needs root, socat, tcpdump; says why when skipped.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { replicaEvent } from '../net/events.js';
import { percentile } from '../net/log-rtt.js';
import type { BenchContext } from './bench-run.js';
import type { ChildEvent } from './children.js';
import { lanMissing } from './lan.js';
import { LanCluster } from './lan-cluster.js';
import { lanThroughput } from './bench-lan-throughput.js';
import { kernelModeMissing } from './netns.js';

/** H and D of the LAN trials: a LAN run starts eight processes per trial on a shared machine; 10/50 makes false failovers there. */
export const LAN_PAIR = { heartbeatMs: 25, failureTimeoutMs: 300 } as const;
/** Trials when --trials is not given (each builds and removes a LAN: seconds apiece). */
export const LAN_DEFAULT_TRIALS = 5;

interface LanTrial {
  seconds: number;
  /** kill -> b live. */
  liveMs: number | null;
  /** kill -> the client's first byte after b's suspicion. */
  resumedMs: number | null;
  invalid: boolean;
  broken: boolean;
  garp: boolean;
  problems: string[];
}

const isProgress = (e: ChildEvent) => e.event === 'progress' && typeof e['bytesReceived'] === 'number' && e['bytesReceived'] > 0;

async function lanTrial(dir: string, seed: number): Promise<LanTrial> {
  const started = performance.now();
  let killAtMs: number | undefined;
  let liveAtMs: number | undefined;
  const holder: { cluster?: LanCluster } = {};
  const onEvent = (label: string, e: ChildEvent) => {
    if (killAtMs === undefined || label !== 'replica b') return;
    if (e.event === 'suspect') holder.cluster?.client?.signal('SIGUSR1');
    if (replicaEvent(e, 'live') !== undefined && typeof e['atMs'] === 'number') liveAtMs = e['atMs'];
  };
  const cluster = await LanCluster.start({ dir, app: 'counter', seed, bulkBytes: 1_000_000, ...LAN_PAIR, onEvent });
  holder.cluster = cluster;
  try {
    const client = await cluster.startClient({ app: 'counter', tool: 'node', seed, bulkBytes: 1_000_000, connections: 1, requests: '400', thinkMs: '2-3', progressMs: 100, timeoutMs: 60_000 });
    await client.waitFor(isProgress, 20_000, 'answers from the service');
    const before = [...cluster.replicas.values()].some((c) => c.events.some((e) => e.event === 'suspect' || e.event === 'fenced'));
    killAtMs = cluster.kill('a');
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    const resumed = client.events.find((e) => e.event === 'resumed');
    const streams = result['streams'] as { broken?: number } | undefined;
    await cluster.stop();
    return {
      seconds: (performance.now() - started) / 1000,
      liveMs: liveAtMs === undefined ? null : liveAtMs - killAtMs,
      resumedMs: typeof resumed?.['atMs'] === 'number' ? resumed['atMs'] - killAtMs : null,
      invalid: before,
      broken: (streams?.broken ?? 1) > 0 || result['resets'] !== 0,
      garp: cluster.report.serviceMacAt?.host === 'b',
      problems: (result['problems'] as string[] | undefined) ?? [],
    };
  } finally {
    await cluster.stop();
  }
}

/** Bulk runs of the throughput half: bytes each way per connection, connections, rounds (each a pair run and a kernel run). */
export const LAN_THROUGHPUT = { bytes: 4_000_000, connections: 2, rounds: 3 } as const;

/** lan.throughputMBps, lan.kernelThroughputMBps and lan.throughputRatio, from one LAN (bench-lan-throughput.ts). */
async function throughputFigures(c: BenchContext, dir: string): Promise<void> {
  const { say, add, cmd, details } = c;
  const t = LAN_THROUGHPUT;
  say(`lan throughput: one LAN, ${t.rounds} round(s) of ${t.connections} kernel bulk connection(s) from c1 (${t.bytes / 1e6} MB down and up at once each), through the pair on a and b, then to the kernel's TCP on a, over the same bridge`);
  const r = await lanThroughput({ dir, ...t, ...LAN_PAIR }, say);
  details['lanThroughput'] = r;
  const command = cmd('lan', '');
  const note = r.falseFailover ? '; a replica suspected its peer during the runs' : '';
  add({ key: 'lan.throughputMBps', what: `LAN: kernel clients through the pair, bulk both ways, median of ${t.rounds}${note}`, value: r.pairMBps, unit: 'MB/s', command, target: 'report' });
  add({ key: 'lan.kernelThroughputMBps', what: `LAN: the same clients to the kernel's TCP on a replica host, same bridge, median of ${t.rounds}`, value: r.kernelMBps, unit: 'MB/s', command, target: 'report' });
  add({ key: 'lan.throughputRatio', what: 'LAN: pair ÷ kernel to kernel, measured in one run', value: r.ratio, unit: '', command, target: 'report' });
  const broken = r.rounds.filter((x) => x.pairMBps === null || x.kernelMBps === null).length;
  add({ key: 'lan.throughputBroken', what: 'LAN throughput rounds with a stream not intact (either side)', value: broken, unit: '', command, target: '0', verdict: broken === 0 ? 'met' : 'MISSED' });
}

export async function benchLan(c: BenchContext): Promise<void> {
  const { o, say, add, cmd, details } = c;
  if (o.quick) {
    say('lan: skipped with --quick (each trial builds a LAN of network namespaces); run it with `ftcp bench --only lan`');
    details['lanSkipped'] = 'quick';
    return;
  }
  const missing = [...lanMissing(), ...kernelModeMissing({ tcpdump: true })].filter((m, i, all) => all.indexOf(m) === i);
  if (missing.length > 0) {
    say(`lan: skipped: it needs ${missing.join('; ')}`);
    details['lanSkipped'] = missing.join('; ');
    return;
  }
  const trials = o.trialsGiven ? o.trials : LAN_DEFAULT_TRIALS;
  say(`lan: ${trials} trial(s), each a fresh LAN (replica hosts a and b behind TAP devices on a Linux bridge, arbiter host, client host; H ${LAN_PAIR.heartbeatMs} ms, D ${LAN_PAIR.failureTimeoutMs} ms) with one kernel counter connection; kill -9 of the primary under load; figure: kill -> the client's first byte read after the backup suspected the primary`);
  const dir = mkdtempSync(join(tmpdir(), 'ftcp-bench-lan-'));
  try {
    await throughputFigures(c, join(dir, 'throughput'));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const resumed: number[] = [];
  const live: number[] = [];
  let broken = 0;
  const trialDetails: unknown[] = [];
  try {
    for (let i = 0, valid = 0; valid < trials && i < trials + Math.ceil(trials / 2); i++) {
      if (c.interrupted !== undefined) break;
      let t: LanTrial;
      try {
        const trialDir = join(dir, `trial-${i + 1}`);
        mkdirSync(trialDir);
        t = await lanTrial(trialDir, 100 + i);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        trialDetails.push({ error: message });
        say(`    trial ${i + 1}: could not run: ${message}`);
        continue;
      }
      trialDetails.push(t);
      if (!t.invalid) {
        valid++;
        if (t.resumedMs !== null) resumed.push(t.resumedMs);
        if (t.liveMs !== null) live.push(t.liveMs);
        if (t.broken) broken++;
      }
      const ms = (v: number | null) => (v === null ? 'never' : `${v.toFixed(1)} ms`);
      say(`    trial ${i + 1} (${t.seconds.toFixed(1)} s): ${t.invalid ? 'false failover before the kill (not counted)' : `b live ${ms(t.liveMs)}, client resumed ${ms(t.resumedMs)} after the kill${t.garp ? '' : '; the bridge did NOT have the service MAC on b\'s port'}`}${t.broken ? ', BROKEN stream' : ''}${t.problems.length > 0 ? `; ${t.problems[0]}` : ''}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  details['lan'] = { ...LAN_PAIR, trials: trialDetails };
  const command = cmd('lan', o.trialsGiven ? ` --trials ${trials}` : '');
  add({ key: 'lan.failoverP50Ms', what: `LAN: kill -9 -> kernel client next byte, p50 (D ${LAN_PAIR.failureTimeoutMs} ms)`, value: percentile(resumed, 50), unit: 'ms', command, target: 'report' });
  add({ key: 'lan.failoverP99Ms', what: 'LAN: kill -9 -> kernel client next byte, p99', value: percentile(resumed, 99), unit: 'ms', command, target: 'report' });
  add({ key: 'lan.goLiveP50Ms', what: 'LAN: kill -9 -> the backup live (then its gratuitous ARP), p50', value: percentile(live, 50), unit: 'ms', command, target: 'report' });
  add({ key: 'lan.trials', what: 'LAN trials measured (false failovers before the kill excluded)', value: resumed.length, unit: '', command, target: `>= ${trials}`, verdict: resumed.length >= trials ? 'met' : 'MISSED' });
  const lastError = trialDetails.flatMap((t) => (t as { error?: string }).error ?? []).pop();
  if (resumed.length === 0) throw new Error(`no LAN trial measured a failover${lastError !== undefined ? `: ${lastError}` : ''}`);
  add({ key: 'lan.broken', what: 'LAN trials whose stream was not intact or was reset', value: broken, unit: '', command, target: '0', verdict: broken === 0 ? 'met' : 'MISSED' });
}
