/**
 * `ftcp soak`: one replicated pair of real processes on loopback (arbiter, switch, two
 * replicas) under steady load from an in-process client, a fault every few seconds for the
 * whole duration, and after each fault redundancy restored by a new backup that joins the
 * survivor (`--role join`). Faults, drawn from the seed:
 *   kill-primary    kill -9 of the primary; the backup goes live; a new backup joins it
 *   kill-backup     kill -9 of the backup; the primary wins and serves alone; a new backup joins
 *   pause-primary   SIGSTOP of the primary until the backup is live, SIGCONT (it must step down); join
 *   pause-backup    SIGSTOP of the backup until the primary serves alone, SIGCONT (it stops); join
 *   arbiter-restart kill -9 of the arbiter and a restart from its state file (no failover expected)
 * Every byte the client reads is checked, and with the bulk app every byte it uploads too
 * (the primary's digests, asked on its control socket: soak-uploads.ts); a failure detector
 * firing where no fault was is a false failover. VmRSS of every replica is sampled (soak-rss.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Child } from './children.js';
import { isReplicaEvent, type ChildEvent } from '../net/events.js';
import { wallClockMs } from '../net/clock.js';
import { DEMO_MTU, LiveCluster } from './live-cluster.js';
import { LoadClient } from './load-client.js';
import { DEFAULT_SERVICE_ADDRESS } from '../net/switch.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { Prng } from '../tcp/prng.js';
import { onStopSignal, type LabIo, type RunOutcome } from './io.js';
import { RSS_JUDGED_FROM_S, rssVerdict, vmRssKiB, type RssSample, type RssVerdict } from './soak-rss.js';
import { UploadChecks, type UploadCounts } from './soak-uploads.js';
import { MAX_SOCKET_PATH_BYTES } from '../net/switchover.js';
import { faultCounts, restoredStats, SOAK_FAULTS, type SoakFault } from './soak-stats.js';
import { SOAK_RESULT_FILE } from './report/soak-load.js';
import { writeRunPage } from './report/write-run.js';

export { SOAK_FAULTS, type SoakFault } from './soak-stats.js';
/** The apps whose every byte a fresh client per round can check on its own. */
export const SOAK_APPS = ['echo', 'bulk', 'kv'] as const;
export type SoakApp = (typeof SOAK_APPS)[number];

export interface SoakOptions {
  durationS: number;
  seed: number;
  app: SoakApp;
  connections: number;
  /** Quiet time after redundancy is restored, before the next fault. */
  intervalMs: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  dir: string;
  json: boolean;
  /** Skip report.html in the run directory (`--no-report`); soak.json is written all the same. */
  noReport?: boolean;
}

export interface SoakFaultRecord {
  n: number;
  /** A planned fault, or the soak restoring the pair after a failover no fault caused. */
  fault: SoakFault | 'false-failover';
  atS: number;
  /** Who serves after it, and who is its new backup. */
  primary: string;
  backup: string;
  restoredAfterMs: number | null;
  error?: string;
}

export interface SoakResult {
  ok: boolean;
  interrupted: boolean;
  seed: number;
  durationS: number;
  faults: SoakFaultRecord[];
  faultsSurvived: number;
  loadRounds: number;
  streams: { intact: number; broken: number };
  /** bulk: the uploads compared with the server app's digests (a broken one is a broken stream too). */
  uploads: UploadCounts;
  resets: number;
  falseFailovers: number;
  problems: string[];
  rss: { samples: RssSample[]; verdict: RssVerdict };
}

const WAIT_MS = 30_000;
/**
 * Each load round is a new client host at 192.0.2.40..119: clear of the arbiter (.2), the
 * service (.10), replicas a..z (.11..) and the hashed names of joiners (.128..253).
 */
const CLIENT_BASE = 40;
const CLIENT_ADDRESSES = 80;
/** How often the bulk soak asks the primary for its upload digests. */
const UPLOAD_CHECK_EVERY_MS = 3000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The events after which a replica no longer is one of a healthy pair. */
const FAILOVER_EVENTS = new Set(['live', 'won', 'fenced', 'stopped']);

export class Soak {
  readonly cluster: LiveCluster;
  private readonly r: SoakResult;
  private readonly t0 = wallClockMs();
  private primary = 'a';
  private backup = 'b';
  private joiners = 0;
  /** Replicas a planned fault may make fail over; any other failover event is false. */
  private expected = new Set<string>();
  private stopping = false;
  /** A failover no fault caused (its first event's time), until the soak has restored the pair. */
  private unplanned: { atMs: number } | undefined;
  /** The load could not go on: the faults stop too. */
  private loadDead = false;
  private readonly prng: Prng;
  private readonly uploads: UploadChecks;
  /** Where each replica's control socket is (`<name>.sock`), and whether the soak made it. */
  private readonly controlDir: { path: string; temporary: boolean };

  constructor(
    readonly o: SoakOptions,
    private readonly io: LabIo,
  ) {
    mkdirSync(o.dir, { recursive: true });
    this.prng = new Prng(o.seed);
    this.uploads = new UploadChecks((problem) => this.brokenUpload(problem));
    // Run directories too long for a Unix socket path keep the control sockets in a temporary one.
    const longest = join(o.dir, 'j000000.sock');
    this.controlDir = Buffer.byteLength(longest) <= MAX_SOCKET_PATH_BYTES ? { path: o.dir, temporary: false } : { path: mkdtempSync(join(tmpdir(), 'ftcp-soak-')), temporary: true };
    this.r = { ok: false, interrupted: false, seed: o.seed, durationS: 0, faults: [], faultsSurvived: 0, loadRounds: 0, streams: { intact: 0, broken: 0 }, uploads: this.uploads.counts, resets: 0, falseFailovers: 0, problems: [], rss: { samples: [], verdict: rssVerdict([], o.durationS) } };
    this.cluster = new LiveCluster({
      dir: o.dir,
      app: o.app,
      seed: o.seed,
      bulkBytes: 64 * 1024,
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      unsafeNoOutputRule: false,
      startTimeoutMs: WAIT_MS,
      mtu: DEMO_MTU,
      onEvent: (label, e) => this.onEvent(label, e),
    });
  }

  private get elapsedS(): number {
    return (wallClockMs() - this.t0) / 1000;
  }

  private onEvent(label: string, e: ChildEvent): void {
    if (!label.startsWith('replica ') || !isReplicaEvent(e)) return;
    if (e.event === 'fault') this.r.problems.push(`${e.name}: replication fault: ${e.message}`);
    if (FAILOVER_EVENTS.has(e.event) && !this.expected.has(e.name) && !this.stopping) {
      // One false failover is several events (won, live, fenced): counted once.
      if (this.unplanned === undefined) {
        this.r.falseFailovers++;
        const atMs = Number(e.atMs);
        this.unplanned = { atMs: Number.isFinite(atMs) ? atMs : wallClockMs() };
      }
      this.r.problems.push(`false failover at ${this.elapsedS.toFixed(1)} s: ${e.name} ${e.event}`);
    }
  }

  private replica(name: string): Child {
    return this.cluster.replicas.get(name)!;
  }

  private control(name: string): string {
    return join(this.controlDir.path, `${name}.sock`);
  }

  /** An upload the server app got wrong: the stream the client saw intact is broken. */
  private brokenUpload(problem: string): void {
    this.r.streams.intact--;
    this.r.streams.broken++;
    this.r.problems.push(problem);
    this.io.stdout(`BROKEN ${problem}
`);
  }

  /** bulk: when it is time (or at the end, `final`), the primary's digests checked against the pending uploads. */
  private async checkUploads(final = false): Promise<void> {
    for (let attempt = 0; this.uploads.due(wallClockMs(), UPLOAD_CHECK_EVERY_MS, final); attempt++) {
      const p = this.replica(this.primary);
      if (p.running && (await this.uploads.askAndCheck(this.control(this.primary), wallClockMs()))) return;
      if (!final || attempt >= 20) return; // mid-run: the next round asks again; at the end: 20 tries, 10 s
      await sleep(500);
    }
  }

  /** Runs the soak to its end (or a signal, or a fault after which redundancy did not come back). */
  async run(): Promise<RunOutcome> {
    const o = this.o;
    this.io.stdout(`soak: ${o.durationS} s, seed ${o.seed}; ${o.app} load, ${o.connections} connection(s) per round; a fault every ~${o.intervalMs} ms after redundancy is back; H ${o.heartbeatMs} ms, D ${o.failureTimeoutMs} ms; runs in ${o.dir}\n`);
    const stopListening = onStopSignal((signal) => {
      this.r.interrupted = true;
      this.stopping = true;
      this.io.stderr(`soak: interrupted by ${signal}: stopping every child\n`);
      void this.cluster.stop();
    });
    const sampler = setInterval(() => this.sample(), 2000);
    let load: Promise<void> | undefined;
    try {
      await this.cluster.startNetwork();
      await this.cluster.startReplica('a', 'primary', 'b', undefined, { control: this.control('a') });
      await this.cluster.startReplica('b', 'backup', 'a', 'a', { control: this.control('b') });
      await this.replica('a').waitFor((e) => e.event === 'registered', WAIT_MS, 'the service address');
      // A load round that cannot even start (the switch refused it) ends the soak as a problem.
      load = this.loadLoop().catch((e: unknown) => {
        if (!this.stopping) this.r.problems.push(`load: ${e instanceof Error ? e.message : String(e)}`);
        this.loadDead = true;
      });
      await this.faultLoop();
    } catch (error) {
      if (!this.r.interrupted) this.r.problems.push(error instanceof Error ? error.message.split('\n')[0]! : String(error));
    } finally {
      this.stopping = true;
      await load;
      if (!this.r.interrupted) await this.checkUploads(true);
      this.uploads.end();
      clearInterval(sampler);
      stopListening();
      await this.cluster.stop();
      if (this.controlDir.temporary) rmSync(this.controlDir.path, { recursive: true, force: true });
    }
    return this.finish();
  }

  private async faultLoop(): Promise<void> {
    const end = this.t0 + this.o.durationS * 1000;
    while (!this.stopping && !this.loadDead && wallClockMs() + this.o.intervalMs < end) {
      await sleep(this.o.intervalMs);
      if (this.stopping) return;
      // After a false failover the next step is to restore the pair, not to strike it again.
      const fault = this.unplanned !== undefined ? 'false-failover' : SOAK_FAULTS[this.prng.below(SOAK_FAULTS.length)]!;
      const rec: SoakFaultRecord = { n: this.r.faults.length + 1, fault, atS: Number(this.elapsedS.toFixed(1)), primary: '', backup: '', restoredAfterMs: null };
      this.r.faults.push(rec);
      const at = wallClockMs();
      try {
        await (fault === 'false-failover' ? this.recoverUnplanned() : this.inject(fault));
        rec.restoredAfterMs = Math.round(wallClockMs() - at);
        this.r.faultsSurvived++;
      } catch (error) {
        rec.error = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      }
      rec.primary = this.primary;
      rec.backup = this.backup;
      this.io.stdout(`${rec.error === undefined ? 'ok    ' : 'FAILED'} fault ${rec.n} at ${rec.atS} s: ${fault}; ${rec.error ?? `restored after ${rec.restoredAfterMs} ms: ${rec.primary} primary, ${rec.backup} backup`}; streams so far ${this.r.streams.intact} intact, ${this.r.streams.broken} broken\n`);
      if (rec.error !== undefined) {
        if (!this.r.interrupted) this.r.problems.push(`fault ${rec.n} (${fault}): ${rec.error}`);
        return; // the pair is in an unknown state: the soak stops here
      }
    }
  }

  /** One fault, then (unless it was the arbiter) a new backup joining the survivor. */
  private async inject(fault: SoakFault): Promise<void> {
    const [p, b] = [this.primary, this.backup];
    if (fault === 'arbiter-restart') {
      this.cluster.arbiter.signal('SIGKILL');
      await this.cluster.arbiter.exited;
      await this.cluster.restartArbiter();
      return;
    }
    const victimIsPrimary = fault === 'kill-primary' || fault === 'pause-primary';
    const [victim, survivor] = victimIsPrimary ? [p, b] : [b, p];
    this.expected = new Set([victim, survivor]);
    const pause = fault.startsWith('pause');
    // Only what comes after the fault: a survivor that took over before has older `won`/`live` lines.
    const at = wallClockMs();
    this.replica(victim).signal(pause ? 'SIGSTOP' : 'SIGKILL');
    const within = this.o.failureTimeoutMs + WAIT_MS;
    const what = `${survivor} taking over from ${victim}`;
    // A backup that goes live serves in the epoch it won; a primary that won serves in the next.
    const since = (e: ChildEvent) => Number(e.atMs) >= at;
    const took = await this.replica(survivor).waitFor((e) => e.event === (victimIsPrimary ? 'live' : 'won') && since(e), within, what);
    const epoch = Number(took.epoch) + (victimIsPrimary ? 0 : 1);
    await this.replica(survivor).waitFor((e) => e.event === 'registered' && e.epoch === epoch, WAIT_MS, `${survivor} holding the service address`);
    if (pause) {
      const v = this.replica(victim);
      v.signal('SIGCONT');
      await v.waitFor((e) => e.event === (victimIsPrimary ? 'fenced' : 'stopped') && since(e), WAIT_MS, `${victim} stepping down after SIGCONT`);
    }
    await this.replica(victim).exited;
    await this.joinBackup(survivor);
  }

  /**
   * After a failover no fault caused: one of the pair lost the test-and-set and steps down
   * (fenced or stopped, then exits); the other serves. Once it holds the service address, a
   * new backup joins it, as after a planned fault.
   */
  private async recoverUnplanned(): Promise<void> {
    const [p, b] = [this.primary, this.backup];
    const since = this.unplanned!.atMs;
    const deadline = wallClockMs() + this.o.failureTimeoutMs + WAIT_MS;
    while (this.replica(p).running && this.replica(b).running) {
      if (wallClockMs() > deadline) throw new Error(`after a false failover neither ${p} nor ${b} stepped down`);
      await sleep(20);
    }
    const survivor = this.replica(p).running ? p : b;
    if (!this.replica(survivor).running) throw new Error(`after a false failover neither ${p} nor ${b} is running: nobody serves`);
    this.expected = new Set([survivor]);
    await this.replica(survivor).waitFor((e) => e.event === 'registered' && Number(e.atMs) >= since, WAIT_MS, `${survivor} holding the service address after the false failover`);
    await this.joinBackup(survivor);
    this.unplanned = undefined;
  }

  /** Redundancy back: a new process joins the survivor (state transfer) as its backup. */
  private async joinBackup(survivor: string): Promise<void> {
    const joiner = `j${++this.joiners}`;
    this.expected = new Set();
    const c = await this.cluster.startReplica(joiner, 'join', survivor, survivor, { startTimeoutMs: WAIT_MS, control: this.control(joiner) });
    await c.waitFor((e) => e.event === 'joined', WAIT_MS, `${joiner} joining ${survivor}`);
    await this.replica(survivor).waitFor((e) => e.event === 'backup-joined' && e.peer === joiner, WAIT_MS, `${survivor} taking ${joiner}`);
    [this.primary, this.backup] = [survivor, joiner];
  }

  /** Rounds of load, one after the other, each a fresh client with its own address and seed. */
  private async loadLoop(): Promise<void> {
    while (!this.stopping) {
      const round = ++this.r.loadRounds;
      const client = await LoadClient.open({
        switchAt: { host: '127.0.0.1', port: this.cluster.switchPort },
        clusterKey: this.cluster.clusterKey,
        address: parseIpv4Addr(`192.0.2.${CLIENT_BASE + (round % CLIENT_ADDRESSES)}`),
        service: parseIpv4Addr(DEFAULT_SERVICE_ADDRESS),
        servicePort: 7070,
        app: this.o.app,
        connections: this.o.connections,
        seed: (this.o.seed + round) >>> 0,
        serverSeed: this.o.seed,
        requests: [150, 250],
        thinkMs: [1, 6],
        startSpreadMs: 50,
        bulkBytes: 64 * 1024,
        uploadBytes: [16 * 1024, 64 * 1024],
        startTimeoutMs: WAIT_MS,
        mtu: DEMO_MTU,
        // kv: the store outlives a round; each round's keys are its own, so its model starts
        // empty, and the round deletes them at its end, so the store (and every snapshot a
        // joiner restores) does not grow with the rounds.
        kvKeyPrefix: `r${round}`,
        kvDeleteAtEnd: true,
        // bulk: server socket ids grow with every round's accepts (each round opens
        // `connections`; the listener and a handshake retried after a fault take more).
        maxServerConn: 64 + 4 * this.o.connections * round,
      });
      client.start();
      const deadline = wallClockMs() + 60_000;
      while (!client.settled && wallClockMs() < deadline && !this.r.interrupted) await sleep(20);
      if (this.r.interrupted) {
        await client.close();
        return;
      }
      if (client.settled) await sleep(200);
      const res = client.result();
      await client.close();
      this.r.streams.intact += res.streams.intact;
      this.r.streams.broken += res.streams.broken;
      this.r.resets += res.resets;
      if (res.uploads !== undefined) this.uploads.add(res.uploads.map((u) => ({ round, ...u })));
      await this.checkUploads();
      if (!res.ok || res.streams.broken > 0) {
        const problem = `load round ${round}: ${res.problems.slice(0, 3).join('; ') || `${res.streams.broken} broken stream(s)`}`;
        this.r.problems.push(problem);
        // Said when it happens, not only in the summary an hour later.
        this.io.stdout(`BROKEN ${problem}\n`);
      }
    }
  }

  private sample(): void {
    const byReplica: Record<string, number> = {};
    for (const [name, child] of this.cluster.replicas) {
      if (!child.running) continue;
      const kb = vmRssKiB(child.pid);
      if (kb !== undefined) byReplica[name] = kb;
    }
    const pairKiB = Object.values(byReplica).reduce((a, b) => a + b, 0);
    if (pairKiB > 0) this.r.rss.samples.push({ atS: Number(this.elapsedS.toFixed(1)), pairKiB, byReplica });
  }

  private finish(): RunOutcome {
    const r = this.r;
    r.durationS = Number(this.elapsedS.toFixed(1));
    r.rss.verdict = rssVerdict(r.rss.samples, r.durationS);
    // RSS is judged from ten minutes on: in a shorter run the windows are mostly node's own warm-up.
    if (r.uploads.unchecked > 0) r.problems.push(`${r.uploads.unchecked} upload(s) not checked: the primary did not answer for its digests`);
    if (r.durationS >= RSS_JUDGED_FROM_S && r.rss.verdict.flat === false) r.problems.push(`the pair's RSS is not flat: ${r.rss.verdict.firstKiB} -> ${r.rss.verdict.lastKiB} KiB`);
    r.ok = !r.interrupted && r.problems.length === 0 && r.streams.broken === 0 && r.resets === 0 && r.faultsSurvived === r.faults.length && r.faults.length > 0;
    this.io.stdout(summaryText(r));
    if (this.o.json) this.io.stdout(`${JSON.stringify(r)}\n`);
    this.keepResult(r);
    if (r.interrupted) {
      this.io.stdout('interrupted\n');
      return 'interrupted';
    }
    if (r.streams.broken > 0 || r.problems.some((p) => p.includes('replication fault'))) return 'correctness';
    if (r.resets > 0) return 'connection';
    return r.ok ? 'ok' : 'liveness';
  }

  /** The result beside the run's captures (soak.json, also after a failure or an interrupt), and its page drawn from it. */
  private keepResult(r: SoakResult): void {
    try {
      writeFileSync(join(this.o.dir, SOAK_RESULT_FILE), `${JSON.stringify(r)}\n`);
    } catch (error) {
      this.io.stderr(`warning: no ${SOAK_RESULT_FILE} in ${this.o.dir}: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    if (this.o.noReport !== true) writeRunPage(this.o.dir, this.io, this.o.json);
  }
}

function summaryText(r: SoakResult): string {
  const restored = restoredStats(r.faults);
  const byKind = faultCounts(r.faults)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const v = r.rss.verdict;
  const lines = [
    `soak: ${r.durationS} s; faults ${r.faults.length} (${byKind}), survived ${r.faultsSurvived}`,
    `  restored after: ${restored === null ? 'n/a' : `median ${restored.medianMs} ms, max ${restored.maxMs} ms`}`,
    `  load rounds ${r.loadRounds}; streams ${r.streams.intact} intact, ${r.streams.broken} broken; resets ${r.resets}; false failovers ${r.falseFailovers}`,
    ...(r.uploads.checked + r.uploads.unchecked > 0 ? [`  uploads checked against the server app's digests: ${r.uploads.checked} (${r.uploads.broken} wrong), ${r.uploads.unchecked} not checked`] : []),
    `  RSS of the pair: ${v.firstKiB ?? '?'} KiB (first ${v.windowS} s window after ${v.warmUpS} s warm-up) -> ${v.lastKiB ?? '?'} KiB (last ${v.windowS} s): ${v.flat === null ? 'too few samples to judge' : v.flat ? 'flat (within 10 %)' : 'NOT flat'}${r.durationS < RSS_JUDGED_FROM_S ? ' (not judged under 10 minutes)' : ''}`,
  ];
  for (const [name, s] of rssPerReplica(r.rss.samples)) lines.push(`    ${name.padEnd(4)} ${s}`);
  for (const p of r.problems.slice(0, 20)) lines.push(`  problem: ${p}`);
  lines.push(r.ok ? 'ok: every fault survived, redundancy restored after each, 0 broken streams' : 'FAILED');
  return `${lines.join('\n')}\n`;
}

/** Per replica: its VmRSS from first to last sample, with min and max. */
function rssPerReplica(samples: readonly RssSample[]): Array<[string, string]> {
  const seen = new Map<string, Array<[number, number]>>();
  for (const s of samples) for (const [n, kb] of Object.entries(s.byReplica)) seen.set(n, [...(seen.get(n) ?? []), [s.atS, kb]]);
  return [...seen].map(([n, xs]) => {
    const kbs = xs.map((x) => x[1]);
    return [n, `${xs[0]![0]}..${xs[xs.length - 1]![0]} s: ${kbs[0]} -> ${kbs[kbs.length - 1]} KiB (min ${Math.min(...kbs)}, max ${Math.max(...kbs)}, ${xs.length} samples)`];
  });
}
